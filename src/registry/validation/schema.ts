/**
 * A CRD's structural schema, compiled once per kind: pruning of unknown fields (apiextensions-apiserver
 * `schema/pruning`), dropping of nulls the schema does not allow (`PruneNonNullableNullsWithoutDefaults`),
 * and validation with kube-openapi's messages (`pkg/validation/validate`, mapped to field errors by
 * `kubeOpenAPIResultToFieldErrors`).
 */
import { isPlainObject } from "../../apimachinery/types.js";
import type { JSONSchemaProps } from "../../resources/types.js";
import { type FieldError, invalidValue, notSupported, required, tooLong, tooMany } from "./field-errors.js";

export interface SchemaNode {
  types: string[];
  nullable: boolean;
  hasDefault: boolean;
  preserveUnknown: boolean;
  embedded: boolean;
  properties?: Map<string, SchemaNode>;
  /** `additionalProperties` as a schema; `true` without a schema keeps everything below unpruned. */
  additional?: SchemaNode;
  additionalAny: boolean;
  items?: SchemaNode;
  required: string[];
  enum?: unknown[];
  /** Scalars of the enum, compared by value; objects and lists by their JSON. */
  enumValues?: Set<unknown>;
  enumKeys?: Set<string>;
  hasStringChecks: boolean;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum: boolean;
  exclusiveMaximum: boolean;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: RegExp;
  patternSource?: string;
}

const enumKey = (v: unknown): string => JSON.stringify(v);

export function compileSchema(s: JSONSchemaProps): SchemaNode {
  const types = s["x-kubernetes-int-or-string"] ? ["integer", "string"] : s.type ? [s.type] : [];
  const node: SchemaNode = {
    types,
    nullable: s.nullable === true,
    hasDefault: s.default !== undefined,
    preserveUnknown: s["x-kubernetes-preserve-unknown-fields"] === true,
    embedded: s["x-kubernetes-embedded-resource"] === true,
    required: s.required ?? [],
    additionalAny: s.additionalProperties === true,
    exclusiveMinimum: s.exclusiveMinimum === true,
    exclusiveMaximum: s.exclusiveMaximum === true,
    minimum: s.minimum,
    maximum: s.maximum,
    minLength: s.minLength,
    maxLength: s.maxLength,
    minItems: s.minItems,
    maxItems: s.maxItems,
    hasStringChecks: s.minLength !== undefined || s.maxLength !== undefined || s.pattern !== undefined,
  };
  if (s.properties) {
    node.properties = new Map(Object.entries(s.properties).map(([k, v]) => [k, compileSchema(v)]));
  }
  if (isPlainObject(s.additionalProperties)) node.additional = compileSchema(s.additionalProperties);
  if (s.items) node.items = compileSchema(s.items);
  if (s.enum) {
    node.enum = s.enum;
    node.enumValues = new Set(s.enum.filter((v) => v === null || typeof v !== "object"));
    node.enumKeys = new Set(s.enum.filter((v) => v !== null && typeof v === "object").map(enumKey));
  }
  if (s.pattern !== undefined) {
    node.patternSource = s.pattern;
    node.pattern = new RegExp(s.pattern, "u");
  }
  return node;
}

const META_FIELDS = new Set(["apiVersion", "kind", "metadata"]);

/**
 * The path to the value being visited, as segments: keys and list indexes. Joined into
 * `spec.results[0].result` only when something is reported, so a clean walk builds no strings.
 */
type Path = (string | number)[];

function pathString(path: Path, extra?: string): string {
  let s = "";
  for (const seg of path) s += typeof seg === "number" ? `[${seg}]` : s ? `.${seg}` : seg;
  if (extra !== undefined) s += s ? `.${extra}` : extra;
  return s;
}

/**
 * Removes fields the schema does not know, in place, and returns their paths sorted as the real server
 * sorts them. At the root (and in embedded resources) apiVersion, kind and metadata are left alone.
 * A null where the schema allows none and has no default is dropped too, as if the field were absent
 * (`PruneNonNullableNullsWithoutDefaults`, which runs right after pruning).
 */
export function prune(value: unknown, node: SchemaNode | undefined, isRoot: boolean): string[] {
  const out: string[] = [];
  pruneInto(value, node, [], isRoot, out);
  return out.sort();
}

function pruneInto(
  x: unknown,
  s: SchemaNode | undefined,
  path: Path,
  embedded: boolean,
  out: string[],
): void {
  if (s?.preserveUnknown) {
    skipPrune(x, s, path, out);
    return;
  }
  if (Array.isArray(x)) {
    const items = s?.items;
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      if (v !== null && typeof v === "object") {
        path.push(i);
        pruneInto(v, items, path, false, out);
        path.pop();
      }
    }
    return;
  }
  if (x === null || typeof x !== "object") return;
  const obj = x as Record<string, unknown>;
  const keepMeta = embedded || s?.embedded === true;
  for (const k in obj) {
    if (keepMeta && META_FIELDS.has(k)) continue;
    const prop = s?.properties?.get(k) ?? s?.additional;
    if (prop) visitKnown(obj, k, prop, path, out);
    else if (!s?.additionalAny) {
      out.push(pathString(path, k));
      delete obj[k];
    }
  }
}

function visitKnown(
  obj: Record<string, unknown>,
  k: string,
  prop: SchemaNode,
  path: Path,
  out: string[],
): void {
  const v = obj[k];
  if (v === null) {
    if (!prop.nullable && !prop.hasDefault) delete obj[k];
  } else if (typeof v === "object") {
    path.push(k);
    pruneInto(v, prop, path, false, out);
    path.pop();
  }
}

function skipPrune(x: unknown, s: SchemaNode, path: Path, out: string[]): void {
  if (Array.isArray(x)) {
    if (!s.items) return;
    for (let i = 0; i < x.length; i++) {
      path.push(i);
      skipPrune(x[i], s.items, path, out);
      path.pop();
    }
    return;
  }
  if (x === null || typeof x !== "object") return;
  const obj = x as Record<string, unknown>;
  for (const k in obj) {
    if (s.embedded && META_FIELDS.has(k)) continue;
    const prop = s.properties?.get(k) ?? s.additional;
    if (prop) visitKnown(obj, k, prop, path, out);
  }
}

/** kube-openapi's name for the JSON type of a value, as printed in "must be of type" messages. */
function typeOf(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (Array.isArray(v)) return "array";
  switch (typeof v) {
    case "string":
      return "string";
    case "boolean":
      return "boolean";
    case "number":
      // Only integers that are exact here count as integers: Go keeps an int64 exactly, but this
      // server would store 2^53 + 1 as 2^53, and 1e308 does not fit any integer a Go client reads
      // back (kube-openapi also takes a float for an integer only within ±2^53).
      return Number.isSafeInteger(v) ? "integer" : "number";
    default:
      return "object";
  }
}

function typeMatches(types: string[], actual: string): boolean {
  if (types.length === 1 && types[0] === actual) return true;
  if (types.includes(actual)) return true;
  // An integer satisfies "number" (kube-openapi's isIntFloat).
  return actual === "integer" && types.includes("number");
}

/** Validates an already pruned object; returns every problem, in the order the schema walk finds them. */
export function validateSchema(value: unknown, root: SchemaNode): FieldError[] {
  const errs: FieldError[] = [];
  validateNode(value, root, [], errs);
  return errs;
}

const fieldOf = (path: string): string => (path === "" ? "<nil>" : path);
const nameOf = (path: string): string => (path === "" ? "." : path);

function inEnum(s: SchemaNode, x: unknown): boolean {
  if (x !== null && typeof x === "object") return s.enumKeys!.has(enumKey(x));
  return s.enumValues!.has(x);
}

function validateNode(x: unknown, s: SchemaNode, path: Path, errs: FieldError[]): void {
  if (x === null || x === undefined) {
    if (s.types.length && !s.nullable) {
      const p = pathString(path);
      errs.push({
        type: "FieldValueTypeInvalid",
        field: fieldOf(p),
        badValue: "null",
        detail: `${nameOf(p)} in body must be of type ${s.types.join(",")}`,
      });
    }
    return;
  }
  const actual = typeOf(x);
  if (s.types.length && !typeMatches(s.types, actual)) {
    const p = pathString(path);
    errs.push({
      type: "FieldValueTypeInvalid",
      field: fieldOf(p),
      badValue: actual,
      detail: `${nameOf(p)} in body must be of type ${s.types.join(",")}: "${actual}"`,
    });
  }
  if (typeof x === "string") {
    if (s.hasStringChecks) validateString(x, s, pathString(path), errs);
  } else if (typeof x === "number") {
    if (s.minimum !== undefined || s.maximum !== undefined) validateNumber(x, s, pathString(path), errs);
  }
  if (s.enum && !inEnum(s, x)) errs.push(notSupported(fieldOf(pathString(path)), x, s.enum));
  if (Array.isArray(x)) {
    if (s.maxItems !== undefined && x.length > s.maxItems) {
      errs.push(tooMany(fieldOf(pathString(path)), x.length, s.maxItems));
    }
    if (s.minItems !== undefined && x.length < s.minItems) {
      const p = pathString(path);
      errs.push(
        invalidValue(fieldOf(p), x.length, `${nameOf(p)} in body should have at least ${s.minItems} items`),
      );
    }
    const items = s.items;
    if (items) {
      for (let i = 0; i < x.length; i++) {
        path.push(i);
        validateNode(x[i], items, path, errs);
        path.pop();
      }
    }
  } else if (actual === "object") {
    const obj = x as Record<string, unknown>;
    for (const r of s.required) {
      if (!(r in obj)) errs.push(required(fieldOf(pathString(path, r))));
    }
    if (!s.properties && !s.additional) return;
    for (const k in obj) {
      const prop = s.properties?.get(k) ?? s.additional;
      if (!prop) continue;
      path.push(k);
      validateNode(obj[k], prop, path, errs);
      path.pop();
    }
  }
}

function validateString(x: string, s: SchemaNode, p: string, errs: FieldError[]): void {
  const field = fieldOf(p);
  const name = nameOf(p);
  // Lengths count runes, as Go's utf8.RuneCountInString.
  const len = s.maxLength !== undefined || s.minLength !== undefined ? [...x].length : 0;
  if (s.maxLength !== undefined && len > s.maxLength)
    errs.push({ ...tooLong(field, s.maxLength), badValue: x });
  if (s.minLength !== undefined && len < s.minLength) {
    errs.push(invalidValue(field, x, `${name} in body should be at least ${s.minLength} chars long`));
  }
  if (s.pattern && !s.pattern.test(x)) {
    errs.push(invalidValue(field, x, `${name} in body should match '${s.patternSource}'`));
  }
}

function validateNumber(x: number, s: SchemaNode, p: string, errs: FieldError[]): void {
  const field = fieldOf(p);
  const name = nameOf(p);
  if (s.maximum !== undefined && (s.exclusiveMaximum ? x >= s.maximum : x > s.maximum)) {
    const rel = s.exclusiveMaximum ? "less than" : "less than or equal to";
    errs.push(invalidValue(field, x, `${name} in body should be ${rel} ${s.maximum}`));
  }
  if (s.minimum !== undefined && (s.exclusiveMinimum ? x <= s.minimum : x < s.minimum)) {
    const rel = s.exclusiveMinimum ? "greater than" : "greater than or equal to";
    errs.push(invalidValue(field, x, `${name} in body should be ${rel} ${s.minimum}`));
  }
}
