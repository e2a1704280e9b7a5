import type { KubeObject } from "../apimachinery/types.js";

/**
 * Stored objects are JSON without `metadata.resourceVersion` (the store's revision is the one truth).
 * A plain JSON answer needs nothing else from the object, so instead of decoding the stored text and
 * encoding it again, the resource version is written into the text: `"metadata":{` becomes
 * `"metadata":{"resourceVersion":"<rv>",`. On PostgreSQL and etcd that round trip was a third of a
 * GET's CPU and most of a page's.
 */
export function withResourceVersionJson(json: string, resourceVersion: number | string): string {
  const rv = `"resourceVersion":${JSON.stringify(String(resourceVersion))}`;
  const at = metadataBodyStart(json);
  if (at === undefined) {
    // not JSON as this server writes it: the slow way gives the same answer or the same error
    const object = JSON.parse(json) as KubeObject;
    object.metadata = { ...object.metadata, resourceVersion: String(resourceVersion) };
    return JSON.stringify(object);
  }
  const empty = json.charCodeAt(skipSpace(json, at)) === CLOSE_BRACE;
  return `${json.slice(0, at)}${rv}${empty ? "" : ","}${json.slice(at)}`;
}

/**
 * An object's JSON as an answer takes it: text, or bytes in pieces that are written one after
 * another. A database's page comes as bytes: decoding them to text, splicing the text and encoding
 * it again made a page's megabytes of strings twice over, and the garbage collector was half of a
 * PostgreSQL page's CPU.
 */
export type EncodedJson = string | readonly Buffer[];

/** How many bytes of JSON `e` holds. */
export function encodedLength(e: EncodedJson): number {
  if (typeof e === "string") return Buffer.byteLength(e);
  let n = 0;
  for (const piece of e) n += piece.length;
  return n;
}

/** Copies `e` into `out` at `at`; returns the offset after it. */
export function writeEncoded(e: EncodedJson, out: Buffer, at: number): number {
  if (typeof e === "string") return at + out.write(e, at);
  for (const piece of e) at += piece.copy(out, at);
  return at;
}

/**
 * Pieces as one Buffer of its own. Buffer.concat puts anything under 4 KiB in a slice of Node's
 * shared 8 KiB pool, which a Buffer kept for long (the recent objects) would keep alive whole.
 */
export function joinBytes(pieces: readonly Buffer[]): Buffer {
  const out = Buffer.allocUnsafeSlow(encodedLength(pieces));
  writeEncoded(pieces, out, 0);
  return out;
}

/**
 * withResourceVersionJson for stored bytes, without decoding or copying them: the stored bytes up
 * to the members of `metadata`, the resource version, the rest of the stored bytes. The scan reads
 * the bytes as Latin-1, one character per byte, so its offsets are byte offsets (JSON's structure
 * is ASCII, and no byte of a multi-byte UTF-8 character is). `metadata` is usually in the first
 * hundred bytes (after apiVersion and kind), so only those are read unless it is further on.
 */
export function withResourceVersionBytes(json: Buffer, resourceVersion: number | string): Buffer[] {
  const head = json.toString("latin1", 0, Math.min(json.length, 512));
  let scanned = head;
  let at = metadataBodyStart(head);
  if (at === undefined && json.length > head.length) {
    scanned = json.toString("latin1");
    at = metadataBodyStart(scanned);
  }
  if (at === undefined) return [Buffer.from(withResourceVersionJson(json.toString(), resourceVersion))];
  let rest = skipSpace(scanned, at);
  if (rest === scanned.length && scanned.length < json.length) {
    scanned = json.toString("latin1");
    rest = skipSpace(scanned, at);
  }
  const empty = scanned.charCodeAt(rest) === CLOSE_BRACE;
  const rv = `"resourceVersion":${JSON.stringify(String(resourceVersion))}${empty ? "" : ","}`;
  return [json.subarray(0, at), Buffer.from(rv), json.subarray(at)];
}

/** The object a write returns: what was given, with the resource version the store assigned. */
export function withResourceVersion(object: KubeObject, resourceVersion: number | string): KubeObject {
  return { ...object, metadata: { ...object.metadata, resourceVersion: String(resourceVersion) } };
}

/**
 * Freezes an object and everything in it, in place. Subtrees already frozen (shared with an object
 * frozen before) are not walked again.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== "object" || value === null || Object.isFrozen(value)) return value;
  if (Array.isArray(value)) {
    for (const item of value) deepFreeze(item);
  } else {
    const record = value as Record<string, unknown>;
    for (const key in record) deepFreeze(record[key]);
  }
  return Object.freeze(value);
}

/**
 * What a database write returns: the object it was given (a write owns it, see Storage.create) with
 * its new resource version, frozen, and remembered as the JSON the store just wrote, so that the
 * answer to the write is spliced from that text rather than encoded a second time.
 */
export function writtenObject(
  object: KubeObject,
  storedJson: string,
  resourceVersion: number | string,
): KubeObject {
  const written = deepFreeze(withResourceVersion(object, resourceVersion));
  rememberJson(written, withResourceVersionJson(storedJson, resourceVersion));
  return written;
}

/**
 * JSON texts of objects that never change again (the memory store's deeply frozen objects), so that
 * an object read many times is encoded once. Weak: a text lives exactly as long as its object.
 */
const knownJson = new WeakMap<object, string>();

/** Remembers `json` as the encoding of `object`; only for objects that are frozen for good. */
export function rememberJson(object: KubeObject, json: string): void {
  if (Object.isFrozen(object)) knownJson.set(object, json);
}

/** JSON.stringify, answered from the remembered text when the value is a remembered object. */
export function toJson(value: unknown): string {
  if (typeof value === "object" && value !== null) {
    const known = knownJson.get(value);
    if (known !== undefined) return known;
  }
  return JSON.stringify(value);
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipSpace(s: string, i: number): number {
  while (i < s.length && isSpace(s.charCodeAt(i))) i++;
  return i;
}

/** The index just after the closing quote of the string starting at `i` (a quote). */
function skipString(s: string, i: number): number {
  for (i++; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === BACKSLASH) i++;
    else if (c === QUOTE) return i + 1;
  }
  return -1;
}

/** The index just after the value starting at `i` (any JSON value), or -1 when the text ends first. */
function skipValue(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c === QUOTE) return skipString(s, i);
  if (c !== OPEN_BRACE && c !== OPEN_BRACKET) {
    while (i < s.length) {
      const d = s.charCodeAt(i);
      if (d === COMMA || d === CLOSE_BRACE || d === CLOSE_BRACKET || isSpace(d)) break;
      i++;
    }
    return i;
  }
  let depth = 0;
  for (; i < s.length; i++) {
    const d = s.charCodeAt(i);
    if (d === QUOTE) {
      i = skipString(s, i) - 1;
      if (i < 0) return -1;
    } else if (d === OPEN_BRACE || d === OPEN_BRACKET) depth++;
    else if (d === CLOSE_BRACE || d === CLOSE_BRACKET) {
      if (--depth === 0) return i + 1;
    }
  }
  return -1;
}

/**
 * Where the members of the top-level `metadata` object begin (just after its `{`), found by walking
 * the top-level members only, so a nested "metadata" key or one inside a string is never mistaken for
 * it. Undefined when the text is not an object with an object-valued `metadata`.
 */
export function metadataBodyStart(s: string): number | undefined {
  let i = skipSpace(s, 0);
  if (s.charCodeAt(i) !== OPEN_BRACE) return undefined;
  i = skipSpace(s, i + 1);
  while (i < s.length && s.charCodeAt(i) === QUOTE) {
    const keyEnd = skipString(s, i);
    if (keyEnd < 0) return undefined;
    const isMetadata = keyEnd - i === 10 && s.startsWith('"metadata"', i);
    i = skipSpace(s, keyEnd);
    if (s.charCodeAt(i) !== COLON) return undefined;
    i = skipSpace(s, i + 1);
    if (isMetadata) return s.charCodeAt(i) === OPEN_BRACE ? i + 1 : undefined;
    i = skipValue(s, i);
    if (i < 0) return undefined;
    i = skipSpace(s, i);
    if (s.charCodeAt(i) !== COMMA) return undefined;
    i = skipSpace(s, i + 1);
  }
  return undefined;
}
