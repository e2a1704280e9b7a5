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
  enumKeys?: Set<string>;
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
  };
  if (s.properties) {
    node.properties = new Map(Object.entries(s.properties).map(([k, v]) => [k, compileSchema(v)]));
  }
  if (isPlainObject(s.additionalProperties)) node.additional = compileSchema(s.additionalProperties);
  if (s.items) node.items = compileSchema(s.items);
  if (s.enum) {
    node.enum = s.enum;
    node.enumKeys = new Set(s.enum.map(enumKey));
  }
  if (s.pattern !== undefined) {
    node.patternSource = s.pattern;
    node.pattern = new RegExp(s.pattern, "u");
  }
  return node;
}

const META_FIELDS = new Set(["apiVersion", "kind", "metadata"]);

const appendKey = (path: string, key: string): string => (path ? `${path}.${key}` : key);

/**
 * Removes fields the schema does not know, in place, and returns their paths sorted as the real server
 * sorts them. At the root (and in embedded resources) apiVersion, kind and metadata are left alone.
 */
export function prune(value: unknown, node: SchemaNode | undefined, isRoot: boolean): string[] {
  const out: string[] = [];
  pruneInto(value, node, "", isRoot, out);
  return out.sort();
}

function pruneInto(
  x: unknown,
  s: SchemaNode | undefined,
  path: string,
  embedded: boolean,
  out: string[],
): void {
  if (s?.preserveUnknown) {
    skipPrune(x, s, path, out);
    return;
  }
  if (Array.isArray(x)) {
    for (let i = 0; i < x.length; i++) pruneInto(x[i], s?.items, `${path}[${i}]`, false, out);
    return;
  }
  if (!isPlainObject(x)) return;
  const keepMeta = embedded || s?.embedded === true;
  for (const k of Object.keys(x)) {
    if (keepMeta && META_FIELDS.has(k)) continue;
    const prop = s?.properties?.get(k);
    if (prop) pruneInto(x[k], prop, appendKey(path, k), false, out);
    else if (s?.additional) pruneInto(x[k], s.additional, appendKey(path, k), false, out);
    else if (!s?.additionalAny) {
      out.push(appendKey(path, k));
      delete x[k];
    }
  }
}

function skipPrune(x: unknown, s: SchemaNode, path: string, out: string[]): void {
  if (Array.isArray(x)) {
    for (let i = 0; i < x.length; i++) {
      if (s.items) skipPrune(x[i], s.items, `${path}[${i}]`, out);
    }
    return;
  }
  if (!isPlainObject(x)) return;
  for (const k of Object.keys(x)) {
    if (s.embedded && META_FIELDS.has(k)) continue;
    const prop = s.properties?.get(k) ?? s.additional;
    if (prop) pruneInto(x[k], prop, appendKey(path, k), false, out);
  }
}

/** A null where the schema allows none and has no default is dropped, as if the field were absent. */
export function dropDisallowedNulls(x: unknown, s: SchemaNode | undefined): void {
  if (!s) return;
  if (Array.isArray(x)) {
    if (s.items) for (const v of x) dropDisallowedNulls(v, s.items);
    return;
  }
  if (!isPlainObject(x)) return;
  for (const k of Object.keys(x)) {
    const prop = s.properties?.get(k) ?? s.additional;
    if (!prop) continue;
    if (x[k] === null) {
      if (!prop.nullable && !prop.hasDefault) delete x[k];
    } else dropDisallowedNulls(x[k], prop);
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
      return Number.isInteger(v) ? "integer" : "number";
    default:
      return "object";
  }
}

function typeMatches(types: string[], actual: string): boolean {
  if (types.includes(actual)) return true;
  // An integer satisfies "number" (kube-openapi's isIntFloat).
  return actual === "integer" && types.includes("number");
}

/** Validates an already pruned object; returns every problem, in the order the schema walk finds them. */
export function validateSchema(value: unknown, root: SchemaNode): FieldError[] {
  const errs: FieldError[] = [];
  validateNode(value, root, "", errs);
  return errs;
}

const fieldOf = (path: string): string => (path === "" ? "<nil>" : path);
const nameOf = (path: string): string => (path === "" ? "." : path);

function validateNode(x: unknown, s: SchemaNode, path: string, errs: FieldError[]): void {
  const name = nameOf(path);
  const field = fieldOf(path);
  if (x === null || x === undefined) {
    if (s.types.length && !s.nullable) {
      errs.push({
        type: "FieldValueTypeInvalid",
        field,
        badValue: "null",
        detail: `${name} in body must be of type ${s.types.join(",")}`,
      });
    }
    return;
  }
  const actual = typeOf(x);
  if (s.types.length && !typeMatches(s.types, actual)) {
    errs.push({
      type: "FieldValueTypeInvalid",
      field,
      badValue: actual,
      detail: `${name} in body must be of type ${s.types.join(",")}: "${actual}"`,
    });
  }
  if (typeof x === "string") validateString(x, s, name, field, errs);
  else if (typeof x === "number") validateNumber(x, s, name, field, errs);
  if (s.enumKeys && !s.enumKeys.has(enumKey(x))) errs.push(notSupported(field, x, s.enum ?? []));
  if (Array.isArray(x)) {
    if (s.maxItems !== undefined && x.length > s.maxItems) errs.push(tooMany(field, x.length, s.maxItems));
    if (s.minItems !== undefined && x.length < s.minItems) {
      errs.push(invalidValue(field, x.length, `${name} in body should have at least ${s.minItems} items`));
    }
    if (s.items) for (let i = 0; i < x.length; i++) validateNode(x[i], s.items, `${path}[${i}]`, errs);
  } else if (isPlainObject(x)) {
    for (const r of s.required) {
      if (!(r in x)) errs.push(required(fieldOf(appendKey(path, r))));
    }
    for (const k of Object.keys(x)) {
      const prop = s.properties?.get(k) ?? s.additional;
      if (prop) validateNode(x[k], prop, appendKey(path, k), errs);
    }
  }
}

function validateString(x: string, s: SchemaNode, name: string, field: string, errs: FieldError[]): void {
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

function validateNumber(x: number, s: SchemaNode, name: string, field: string, errs: FieldError[]): void {
  if (s.maximum !== undefined && (s.exclusiveMaximum ? x >= s.maximum : x > s.maximum)) {
    const rel = s.exclusiveMaximum ? "less than" : "less than or equal to";
    errs.push(invalidValue(field, x, `${name} in body should be ${rel} ${s.maximum}`));
  }
  if (s.minimum !== undefined && (s.exclusiveMinimum ? x <= s.minimum : x < s.minimum)) {
    const rel = s.exclusiveMinimum ? "greater than" : "greater than or equal to";
    errs.push(invalidValue(field, x, `${name} in body should be ${rel} ${s.minimum}`));
  }
}
