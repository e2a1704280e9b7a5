import { isPlainObject, setOwn } from "./types.js";
import { badRequest, requestEntityTooLarge, StatusError } from "./status.js";
import { goKind } from "./go-format.js";

/**
 * JSON patch (RFC 6902) and JSON merge patch (RFC 7386) as kube-apiserver applies them to custom
 * resources: with evanphx/json-patch v4, whose few departures from the RFCs clients can observe and
 * are kept here (noted where they occur). Both functions leave their inputs untouched and return a
 * document that shares nothing with them.
 */

/** kube-apiserver's cap on the operations of one JSON patch. */
export const MAX_JSON_PATCH_OPERATIONS = 10000;

type Json = unknown;
type Container = Record<string, Json> | Json[];

/** A deep copy of parsed JSON. */
export function cloneJson<T>(v: T): T {
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map(cloneJson) as T;
  const out: Record<string, Json> = {};
  for (const k of Object.keys(v)) setOwn(out, k, cloneJson((v as Record<string, Json>)[k]));
  return out as T;
}

function getOwn(o: Record<string, Json>, k: string): Json | undefined {
  return Object.hasOwn(o, k) ? o[k] : undefined;
}

export function jsonEqual(a: Json, b: Json): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => jsonEqual(x, b[i]));
  }
  const ka = Object.keys(a);
  const bo = b as Record<string, Json>;
  if (ka.length !== Object.keys(bo).length) return false;
  return ka.every((k) => Object.hasOwn(bo, k) && jsonEqual((a as Record<string, Json>)[k], bo[k]));
}

// ---------------------------------------------------------------- JSON patch

class PatchFailure extends Error {}

/**
 * A failed operation is a 422 whose message hides the reason, exactly as kube-apiserver answers
 * (NewGenericServerResponse(422)); the reason travels as `cause` for the logs.
 */
function invalidPatch(reason: string): StatusError {
  const err = new StatusError(
    422,
    "Invalid",
    "the server rejected our request due to an error in our request",
    {},
  );
  err.cause = new Error(reason);
  return err;
}

/** strconv.Atoi: an optional sign and decimal digits. */
function atoi(key: string): number {
  if (!/^[+-]?\d+$/.test(key)) throw new PatchFailure(`value was not a proper array index: '${key}'`);
  return Number(key);
}

function decodeKey(k: string): string {
  return k.includes("~") ? k.replace(/~[01]/g, (m) => (m === "~1" ? "/" : "~")) : k;
}

/**
 * The container holding the last token of `path`, and that token. Like evanphx, the text before
 * the first "/" is ignored and a path without "/" addresses nothing.
 */
function findParent(doc: Json, path: string): { con: Container; key: string } | undefined {
  const split = path.split("/");
  if (split.length < 2) return undefined;
  let cur: Json = doc;
  for (let i = 1; i < split.length - 1; i++) {
    const part = decodeKey(split[i]);
    let next: Json | undefined;
    if (Array.isArray(cur)) {
      let idx: number;
      try {
        idx = atoi(part);
      } catch {
        return undefined;
      }
      if (idx < 0) idx += cur.length;
      next = idx >= 0 && idx < cur.length ? cur[idx] : undefined;
    } else if (isPlainObject(cur)) {
      next = getOwn(cur, part);
    }
    if (next === undefined || next === null || typeof next !== "object") return undefined;
    cur = next;
  }
  return { con: cur as Container, key: decodeKey(split[split.length - 1]) };
}

/** An array index for get/set/remove: negative counts from the end; must address an element. */
function existingIndex(ary: Json[], key: string): number {
  let idx = atoi(key);
  if (idx < -ary.length || idx >= ary.length)
    throw new PatchFailure(`Unable to access invalid index: ${idx}`);
  if (idx < 0) idx += ary.length;
  return idx;
}

function conGet(con: Container, key: string): Json | undefined {
  if (Array.isArray(con)) return con[existingIndex(con, key)];
  return getOwn(con, key);
}

function conAdd(con: Container, key: string, val: Json): void {
  if (!Array.isArray(con)) return setOwn(con, key, val);
  if (key === "-") {
    con.push(val);
    return;
  }
  let idx = atoi(key);
  const size = con.length + 1;
  if (idx >= size || idx < -size) throw new PatchFailure(`Unable to access invalid index: ${idx}`);
  if (idx < 0) idx += size;
  con.splice(idx, 0, val);
}

function conRemove(con: Container, key: string): void {
  if (Array.isArray(con)) {
    con.splice(existingIndex(con, key), 1);
    return;
  }
  if (!Object.hasOwn(con, key)) throw new PatchFailure(`Unable to remove nonexistent key: ${key}`);
  delete con[key];
}

function stringField(op: Record<string, Json>, name: "op" | "path" | "from"): string | undefined {
  const v = getOwn(op, name);
  return typeof v === "string" ? v : undefined;
}

function requirePath(op: Record<string, Json>, name: "path" | "from"): string {
  const p = stringField(op, name);
  if (p === undefined) throw new PatchFailure(`operation missing ${name} field`);
  return p;
}

function mustFind(doc: Json, path: string, what: string): { con: Container; key: string } {
  const found = findParent(doc, path);
  if (found === undefined)
    throw new PatchFailure(`${what} operation does not apply: doc is missing path: ${path}`);
  return found;
}

/**
 * What copies may add to a document in one patch, in bytes of JSON (k8s.io/apiserver sets
 * jsonpatch.AccumulatedCopySizeLimit to JSONPatchMaxCopyBytes): without it, two dozen copies of a
 * value into itself make a 1 KB patch grow a document past any memory.
 */
const MAX_ACCUMULATED_COPY_BYTES = 3 * 1024 * 1024;

/** Applies one operation to `doc` in place; returns the document (replaced only for a root replace). */
function applyOp(doc: Json, op: Record<string, Json>, copied: { bytes: number }): Json {
  const kind = stringField(op, "op") ?? "unknown";
  // A missing value behaves as null.
  const value = getOwn(op, "value") ?? null;
  switch (kind) {
    case "add": {
      const { con, key } = mustFind(doc, requirePath(op, "path"), "add");
      conAdd(con, key, cloneJson(value));
      return doc;
    }
    case "remove": {
      const { con, key } = mustFind(doc, requirePath(op, "path"), "remove");
      conRemove(con, key);
      return doc;
    }
    case "replace": {
      const path = requirePath(op, "path");
      if (path === "") {
        if (value === null || typeof value !== "object") {
          throw new PatchFailure("replace operation value must be object or array");
        }
        return cloneJson(value);
      }
      const { con, key } = mustFind(doc, path, "replace");
      if (Array.isArray(con)) con[existingIndex(con, key)] = cloneJson(value);
      // evanphx v4 departs from the RFC here: replacing a missing member adds it.
      else setOwn(con, key, cloneJson(value));
      return doc;
    }
    case "move": {
      const from = mustFind(doc, requirePath(op, "from"), "move");
      const val = conGet(from.con, from.key);
      conRemove(from.con, from.key);
      const to = mustFind(doc, requirePath(op, "path"), "move");
      conAdd(to.con, to.key, val ?? null);
      return doc;
    }
    case "copy": {
      const from = mustFind(doc, requirePath(op, "from"), "copy");
      const val = conGet(from.con, from.key);
      if (val === undefined)
        throw new PatchFailure(`copy operation does not apply: doc is missing from path`);
      const to = mustFind(doc, requirePath(op, "path"), "copy");
      copied.bytes += Buffer.byteLength(JSON.stringify(val));
      if (copied.bytes > MAX_ACCUMULATED_COPY_BYTES) {
        throw new PatchFailure(
          `Unable to complete the copy, the accumulated size increase of copy is ${copied.bytes}, exceeding the limit ${MAX_ACCUMULATED_COPY_BYTES}`,
        );
      }
      conAdd(to.con, to.key, cloneJson(val));
      return doc;
    }
    case "test": {
      const path = requirePath(op, "path");
      if (path === "") {
        if (!jsonEqual(doc, value)) throw new PatchFailure(`testing value ${path} failed`);
        return doc;
      }
      const { con, key } = mustFind(doc, path, "test");
      const cur = conGet(con, key) ?? null;
      // evanphx v4: a missing member tests equal to null.
      if (!jsonEqual(cur, value)) throw new PatchFailure(`testing value ${path} failed`);
      return doc;
    }
    default:
      throw new PatchFailure(`Unexpected kind: ${kind}`);
  }
}

/**
 * Applies an RFC 6902 patch (already parsed from JSON) to a copy of `doc`. A patch that is not a
 * list of objects is 400 (the decoder's message), more than 10000 operations 413, and any failing
 * operation (a failed `test`, a missing path, a bad index) 422 Invalid, all as kube-apiserver.
 */
export function applyJsonPatch(doc: unknown, patch: unknown): unknown {
  // JSON null decodes to an empty patch.
  if (patch === null) return cloneJson(doc);
  if (!Array.isArray(patch)) {
    throw badRequest(`json: cannot unmarshal ${goKind(patch)} into Go value of type jsonpatch.Patch`);
  }
  for (const op of patch) {
    if (op !== null && !isPlainObject(op)) {
      throw badRequest(`json: cannot unmarshal ${goKind(op)} into Go value of type jsonpatch.Operation`);
    }
  }
  if (patch.length > MAX_JSON_PATCH_OPERATIONS) {
    throw requestEntityTooLarge(
      `Request entity too large: The allowed maximum operations in a JSON patch is ${MAX_JSON_PATCH_OPERATIONS}, got ${patch.length}`,
    );
  }
  let out = cloneJson(doc);
  try {
    const copied = { bytes: 0 };
    for (const op of patch as (Record<string, Json> | null)[]) out = applyOp(out, op ?? {}, copied);
  } catch (e) {
    if (e instanceof PatchFailure) throw invalidPatch(e.message);
    throw e;
  }
  return out;
}

// ---------------------------------------------------------------- merge patch

/** evanphx prunes null members from values it inserts, recursing through arrays (whose null elements stay). */
function pruneNulls(v: Json): Json {
  if (Array.isArray(v)) return v.map((x) => (x === null ? null : pruneNulls(x)));
  if (!isPlainObject(v)) return v;
  const out: Record<string, Json> = {};
  for (const k of Object.keys(v)) {
    if (v[k] !== null) setOwn(out, k, pruneNulls(v[k]));
  }
  return out;
}

/** Merges `patch` into `doc`, which is a private copy and is modified. */
function mergeInto(doc: Record<string, Json>, patch: Record<string, Json>): void {
  for (const k of Object.keys(patch)) {
    const v = patch[k];
    if (v === null) {
      delete doc[k];
      continue;
    }
    const cur = getOwn(doc, k);
    if (cur === undefined || cur === null || !isPlainObject(cur)) {
      setOwn(doc, k, pruneNulls(v));
    } else if (!isPlainObject(v)) {
      // An array or scalar replacing an object is taken as is, nulls included (evanphx).
      setOwn(doc, k, cloneJson(v));
    } else {
      mergeInto(cur, v);
    }
  }
}

/**
 * Applies an RFC 7386 merge patch (already parsed) to a copy of `doc`: null deletes, objects merge,
 * everything else replaces. A null or scalar patch is 400 `Invalid JSON Patch`, as kube-apiserver
 * answers; an array patch replaces the document.
 */
export function applyMergePatch(doc: unknown, patch: unknown): unknown {
  if (Array.isArray(patch)) return pruneNulls(patch);
  if (!isPlainObject(patch)) throw badRequest("Invalid JSON Patch");
  if (!isPlainObject(doc)) return pruneNulls(patch);
  const out = cloneJson(doc);
  mergeInto(out, patch);
  return out;
}
