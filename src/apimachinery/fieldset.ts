/**
 * Field sets in the FieldsV1 format of managedFields (`{"f:summary":{"f:pass":{}}}`), as
 * sigs.k8s.io/structured-merge-diff computes them for custom resources: objects and granular maps
 * are walked; lists and atomic maps are owned whole. Pure functions over JSON.
 */
import type { JSONSchemaProps } from "../resources/types.js";
import { isPlainObject } from "./types.js";

export type FieldSet = { [key: string]: FieldSet };
export type FieldPath = string[];

/** Where a schema says a value is atomic, so the walk stops there. */
function childSchema(schema: JSONSchemaProps | undefined, key: string): JSONSchemaProps | undefined {
  if (!schema) return undefined;
  const p = schema.properties?.[key];
  if (p) return p;
  return typeof schema.additionalProperties === "object" ? schema.additionalProperties : undefined;
}

function atomic(schema: JSONSchemaProps | undefined): boolean {
  return schema?.["x-kubernetes-map-type"] === "atomic";
}

/** Metadata the server owns: never part of anyone's field set. */
const IGNORED_METADATA = new Set([
  "name",
  "namespace",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "managedFields",
  "selfLink",
  "generateName",
]);

function walk(value: unknown, schema: JSONSchemaProps | undefined): FieldSet {
  const set: FieldSet = {};
  if (!isPlainObject(value) || atomic(schema)) return set;
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    const s = childSchema(schema, k);
    set[`f:${k}`] = isPlainObject(v) && !atomic(s) ? walk(v, s) : {};
  }
  return set;
}

/** The fields an object sets, without apiVersion/kind and server-owned metadata. */
export function fieldSetOf(obj: Record<string, unknown>, schema?: JSONSchemaProps): FieldSet {
  const set = walk(obj, schema);
  delete set["f:apiVersion"];
  delete set["f:kind"];
  const meta = set["f:metadata"];
  if (meta) {
    for (const k of IGNORED_METADATA) delete meta[`f:${k}`];
    if (Object.keys(meta).length === 0) delete set["f:metadata"];
  }
  return set;
}

function collectLeaves(
  value: unknown,
  schema: JSONSchemaProps | undefined,
  path: FieldPath,
  out: FieldPath[],
) {
  if (!isPlainObject(value) || atomic(schema)) {
    out.push(path);
    return;
  }
  const before = out.length;
  for (const k of Object.keys(value)) {
    const v = value[k];
    if (v !== undefined) collectLeaves(v, childSchema(schema, k), [...path, k], out);
  }
  // An empty object is owned as a whole, as walk() leaves it.
  if (out.length === before) out.push(path);
}

/**
 * `leaves(fieldSetOf(obj, schema))` without building the set: an update computes the leaves of both
 * versions of the object, and building a set of computed `f:` keys costs several times more than
 * the walk itself.
 */
export function leavesOf(obj: Record<string, unknown>, schema?: JSONSchemaProps): FieldPath[] {
  const out: FieldPath[] = [];
  for (const k of Object.keys(obj)) {
    const v = obj[k];
    if (v === undefined || k === "apiVersion" || k === "kind") continue;
    const s = childSchema(schema, k);
    if (k !== "metadata") {
      collectLeaves(v, s, [k], out);
      continue;
    }
    // metadata is never a leaf: it is walked, less what the server owns, and dropped when empty.
    if (!isPlainObject(v) || atomic(s)) continue;
    for (const mk of Object.keys(v)) {
      const mv = v[mk];
      if (mv !== undefined && !IGNORED_METADATA.has(mk)) collectLeaves(mv, childSchema(s, mk), [k, mk], out);
    }
  }
  return out;
}

/** Every leaf path of a set: `[["summary","pass"], ...]`. */
export function leaves(set: FieldSet, prefix: FieldPath = []): FieldPath[] {
  const out: FieldPath[] = [];
  for (const [k, child] of Object.entries(set)) {
    const path = [...prefix, k.slice(2)];
    if (Object.keys(child).length === 0) out.push(path);
    else out.push(...leaves(child, path));
  }
  return out;
}

export function fromLeaves(paths: FieldPath[]): FieldSet {
  const root: FieldSet = {};
  for (const p of paths) {
    let node = root;
    for (const seg of p) node = node[`f:${seg}`] ??= {};
  }
  return root;
}

export function pathKey(p: FieldPath): string {
  return p.map((s) => `.${s}`).join("");
}

/** Whether `path` is a leaf of `set` (what subtract() would remove). */
export function hasLeaf(set: FieldSet, path: FieldPath): boolean {
  let node: FieldSet | undefined = set;
  for (const seg of path) {
    node = node[`f:${seg}`];
    if (!node) return false;
  }
  return Object.keys(node).length === 0;
}

/** A path is covered by a set when the set holds it or one of its ancestors as a leaf. */
export function covers(set: FieldSet, path: FieldPath): boolean {
  let node: FieldSet | undefined = set;
  for (const seg of path) {
    node = node[`f:${seg}`];
    if (!node) return false;
    if (Object.keys(node).length === 0) return true;
  }
  return true;
}

export function subtract(set: FieldSet, remove: FieldPath[]): FieldSet {
  const drop = new Set(remove.map(pathKey));
  return fromLeaves(leaves(set).filter((p) => !drop.has(pathKey(p))));
}

export function union(a: FieldSet, b: FieldSet): FieldSet {
  return fromLeaves([...leaves(a), ...leaves(b)]);
}

export function getPath(obj: unknown, path: FieldPath): unknown {
  let v: unknown = obj;
  for (const seg of path) {
    if (!isPlainObject(v)) return undefined;
    v = v[seg];
  }
  return v;
}

/** Removes a field and any objects left empty above it. */
export function removePath(obj: Record<string, unknown>, path: FieldPath): void {
  const stack: Record<string, unknown>[] = [obj];
  for (const seg of path.slice(0, -1)) {
    const next = stack[stack.length - 1][seg];
    if (!isPlainObject(next)) return;
    stack.push(next);
  }
  delete stack[stack.length - 1][path[path.length - 1]];
  for (let i = stack.length - 1; i > 0; i--) {
    if (Object.keys(stack[i]).length > 0) break;
    delete stack[i - 1][path[i - 1]];
  }
}
