import { jsonStringEnd } from "../../apimachinery/json-depth.js";

/**
 * JSON.parse keeps the last of repeated keys silently; the real server's strict decoder reports each
 * repeat as `duplicate field "<path>"`. One pass over the raw text: strings are skipped with indexOf,
 * and a path is only spelled out when a duplicate is found.
 */

interface Frame {
  isArray: boolean;
  index: number;
  /** Keys seen so far: a list while the object is small (the common case), a set once it grows. */
  keys: string[] | Set<string> | undefined;
  /** The key whose value is being read (objects only). */
  key: string;
}

function pathOf(stack: Frame[], depth: number): string {
  let s = "";
  for (let d = 0; d <= depth; d++) {
    const f = stack[d];
    // A frame's position inside its parent is the parent's current key or index.
    if (d > 0) {
      const parent = stack[d - 1];
      s += parent.isArray ? `[${parent.index}]` : s ? `.${parent.key}` : parent.key;
    }
    if (d === depth && !f.isArray) s += s ? `.${f.key}` : f.key;
  }
  return s;
}

/** Records a key of an object; true when the object already had it. */
function seen(f: Frame, key: string): boolean {
  const keys = f.keys!;
  if (Array.isArray(keys)) {
    if (keys.includes(key)) return true;
    keys.push(key);
    if (keys.length > 32) f.keys = new Set(keys);
    return false;
  }
  if (keys.has(key)) return true;
  keys.add(key);
  return false;
}

/** Paths of repeated object keys, in document order (`metadata.name`, `spec.ports[0].hostPort`). */
export function findDuplicateFields(text: string): string[] {
  const dups: string[] = [];
  let i = 0;
  const n = text.length;
  // Only JSON objects are scanned; a YAML body (apply patches may be YAML) is not this scanner's to read.
  while (i < n && /\s/.test(text[i])) i++;
  if (text[i] !== "{") return dups;
  const stack: Frame[] = [];
  let expectKey = false;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const end = jsonStringEnd(text, i);
      if (expectKey) {
        let key = text.slice(i + 1, end);
        if (key.includes("\\")) {
          try {
            // a lone surrogate decodes to U+FFFD, as in Go: two such keys are one, repeated
            key = (JSON.parse(`"${key}"`) as string).toWellFormed();
          } catch {
            return dups;
          }
        }
        const top = stack[stack.length - 1];
        top.key = key;
        if (seen(top, key)) dups.push(pathOf(stack, stack.length - 1));
        expectKey = false;
      }
      i = end + 1;
      continue;
    }
    if (c === 0x7b /* { */) {
      stack.push({ isArray: false, index: 0, keys: [], key: "" });
      expectKey = true;
    } else if (c === 0x5b /* [ */) {
      stack.push({ isArray: true, index: 0, keys: undefined, key: "" });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top?.isArray) top.index++;
      else if (top) expectKey = true;
    }
    i++;
  }
  return dups;
}

const QUOTE = 0x22;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/**
 * How many `":` the text holds, or -1 when a quote may be set apart from its colon by whitespace
 * (a key written `"a" : 1`, which would not be counted). Searching for the colon alone and looking
 * back one character is more than twice as fast as searching for the two characters together.
 */
function keyEnds(text: string): number {
  let n = 0;
  for (let i = text.indexOf(":"); i >= 0; i = text.indexOf(":", i + 1)) {
    let j = i - 1;
    let c = text.charCodeAt(j);
    if (c === QUOTE) {
      n++;
      continue;
    }
    if (!isSpace(c)) continue;
    while (isSpace(c)) c = text.charCodeAt(--j);
    if (c === QUOTE) return -1;
  }
  return n;
}

/** How many keys the value's objects hold, all levels. */
function keysIn(v: unknown): number {
  let n = 0;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (x !== null && typeof x === "object") n += keysIn(x);
    }
    return n;
  }
  const o = v as Record<string, unknown>;
  for (const k in o) {
    n++;
    const x = o[k];
    if (x !== null && typeof x === "object") n += keysIn(x);
  }
  return n;
}

/**
 * findDuplicateFields for a text JSON.parse read as `value`, scanning only when a key may repeat.
 * Every key written ends in `":` (once none is set apart from its colon by whitespace), and a
 * string may hold `":` too: the text holds at least as many as keys written, the value each key
 * once. Equal counts therefore mean no repeat, found with indexOf and a walk of the value in
 * about half the scan's time.
 */
export function duplicateFieldsOf(text: string, value: unknown): string[] {
  // With a \u escape two keys may be one (lone surrogates are both U+FFFD) where JSON.parse kept
  // them apart: such rare bodies get the full scan.
  if (!text.includes("\\u") && value !== null && typeof value === "object") {
    const ends = keyEnds(text);
    if (ends >= 0 && ends === keysIn(value)) return [];
  }
  return findDuplicateFields(text);
}
