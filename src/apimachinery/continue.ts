import type { ObjectKey } from "../storage/interface.js";
import { keyString } from "../storage/interface.js";
import { isPlainObject } from "./types.js";
import { badRequest } from "./status.js";

/**
 * Continue tokens in the exact format of k8s.io/apiserver pkg/storage/continue.go: base64url (no
 * padding) of `{"v":"meta.k8s.io/v1","rv":N,"start":"<key>\u0000"}`. As in etcd3, `start` is the
 * first key the next page may hold: the last key returned followed by a NUL byte, the smallest key
 * after it. Every page of a list is read at `rv`, the first page's resource version.
 */

export interface ContinueToken {
  /** The first page's resource version; -1: the latest (a token that replaced an expired one). */
  resourceVersion: number;
  /** The next page holds the items strictly after this key. */
  after: ObjectKey;
}

const VERSION = "meta.k8s.io/v1";

export function encodeContinue(t: ContinueToken): string {
  const json = JSON.stringify({ v: VERSION, rv: t.resourceVersion, start: `${keyString(t.after)}\u0000` });
  return Buffer.from(json, "utf8").toString("base64url");
}

/** Throws 400 BadRequest `invalid continue token: continue key is not valid: ...` as the API server does. */
export function decodeContinue(token: string): ContinueToken {
  const fail = (why: string): never => {
    throw badRequest(`invalid continue token: continue key is not valid${why}`);
  };
  // Node's base64url decoder skips invalid characters; Go's RawURLEncoding rejects them.
  const bad = token.search(/[^A-Za-z0-9_-]/);
  if (bad >= 0) fail(`: illegal base64 data at input byte ${bad}`);
  if (token.length % 4 === 1) fail(`: illegal base64 data at input byte ${token.length - 1}`);
  let c: unknown;
  try {
    c = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch (e) {
    fail(`: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!isPlainObject(c)) {
    fail(`: json: cannot unmarshal ${goJsonKind(c)} into Go value of type storage.continueToken`);
  }
  const obj = c as Record<string, unknown>;
  const v = field(obj, "v", "string", fail) ?? "";
  const rv = field(obj, "rv", "int64", fail) ?? 0;
  const start = field(obj, "start", "string", fail) ?? "";
  if (v !== VERSION) fail(`: server does not recognize this encoded version ${v}`);
  // a negative version means "go on at the latest state" (the token a 410 for an expired one carries)
  if (typeof rv !== "number" || rv === 0)
    fail(": incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
  if (start === "") fail(": encoded start key empty (version meta.k8s.io/v1)");
  return { resourceVersion: rv as number, after: parseStart(start as string, fail) };
}

function field(
  obj: Record<string, unknown>,
  name: string,
  type: "string" | "int64",
  fail: (why: string) => never,
): string | number | undefined {
  if (!Object.hasOwn(obj, name) || obj[name] === null) return undefined;
  const x = obj[name];
  if (type === "string" ? typeof x === "string" : Number.isSafeInteger(x)) return x as string | number;
  const what = typeof x === "number" ? `number ${x}` : goJsonKind(x);
  return fail(`: json: cannot unmarshal ${what} into Go struct field continueToken.${name} of type ${type}`);
}

function goJsonKind(x: unknown): string {
  if (Array.isArray(x)) return "array";
  if (x === null) return "null";
  if (typeof x === "boolean") return "bool";
  return typeof x;
}

/**
 * `start` must be a clean relative path (the API server guards against `..` walking out of the
 * resource's key prefix): `name` or `namespace/name`, followed by the NUL our tokens carry.
 */
function parseStart(start: string, fail: (why: string) => never): ObjectKey {
  const key = start.endsWith("\u0000") ? start.slice(0, -1) : start;
  const parts = key.split("/");
  const clean = parts.length <= 2 && parts.every((p) => p !== "" && p !== "." && p !== "..");
  if (!clean) return fail(`: ${start}`);
  return parts.length === 1 ? { namespace: "", name: parts[0] } : { namespace: parts[0], name: parts[1] };
}
