/**
 * Go's way of printing strings and JSON, for messages and annotations that must read exactly as
 * kube-apiserver writes them.
 */

const ESCAPES: Record<string, string> = {
  "\u0007": "\\a",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\u000b": "\\v",
  '"': '\\"',
  "\\": "\\\\",
};

/** unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. */
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

/** `%q` (strconv.Quote): Go's escapes, `\x..` for other bytes below 0x80, `\u`/`\U` for other unprintable runes. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const known = ESCAPES[ch];
    if (known !== undefined) {
      out += known;
      continue;
    }
    if (PRINTABLE.test(ch)) {
      out += ch;
      continue;
    }
    const c = ch.codePointAt(0) ?? 0;
    if (c < 0x80) out += `\\x${c.toString(16).padStart(2, "0")}`;
    else if (c <= 0xffff) out += `\\u${c.toString(16).padStart(4, "0")}`;
    else out += `\\U${c.toString(16).padStart(8, "0")}`;
  }
  return `${out}"`;
}

/** encoding/json escapes HTML characters and line separators in what it encodes. */
const goEscape = (json: string): string =>
  json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

/** encoding/json's Marshal of a map: keys sorted, HTML characters and line separators escaped. */
export function goJson(value: unknown): string {
  const sorted = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(sorted);
    if (x === null || typeof x !== "object") return x;
    const o = x as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(o).sort()) out[k] = sorted(o[k]);
    return out;
  };
  return goEscape(JSON.stringify(sorted(value)));
}

/** encoding/json's Marshal of a struct: fields in declaration order, which `fields` must follow. */
export function goJsonStruct(fields: Record<string, unknown>): string {
  return goEscape(JSON.stringify(fields));
}

/** How encoding/json names a JSON value's kind in "cannot unmarshal <kind> into ..." errors. */
export function goKind(v: unknown): string {
  if (Array.isArray(v)) return "array";
  if (v === null) return "null";
  if (typeof v === "boolean") return "bool";
  return typeof v;
}
