import { setOwn } from "./types.js";
import { LineCounter, isMap, isScalar, isSeq, parseAllDocuments, type Tags } from "yaml";

export interface ParsedYaml {
  value: unknown;
  /**
   * Every key repeated within one mapping, as the real server's strict YAML decoder (go-yaml v2 via
   * sigs.k8s.io/yaml) names them: `line 5: key "name" already set in map`, in its order.
   */
  duplicateKeys: string[];
}

/**
 * Parses a YAML request body as kube-apiserver does: a key repeated within one mapping is not an
 * error, the last one wins (what its non-strict decoder keeps), and the repeats are reported for
 * field validation to turn into warnings (Warn) or a 400 (Strict). Syntax errors throw.
 */
export function parseYamlBody(text: string): ParsedYaml {
  checkYamlSize(text);
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { ...GO_YAML, lineCounter });
  // go-yaml reads the first document and nothing after it
  const doc = Array.isArray(docs) ? docs[0] : undefined;
  if (!doc) return { value: null, duplicateKeys: [] };
  if (doc.errors.length > 0) throw doc.errors[0];
  const duplicateKeys: string[] = [];
  findRepeats(doc.contents, (at, key) =>
    duplicateKeys.push(`line ${lineCounter.linePos(at).line}: key ${goValue(key)} already set in map`),
  );
  return { value: asJsonValue(doc.toJS()), duplicateKeys };
}

/**
 * YAML as go-yaml v2 (sigs.k8s.io/yaml) reads it: YAML 1.1, so yes/no/on/off are booleans, 017 is
 * octal and `<<` merges a mapping in; but a timestamp or a base-60 number stays the string it
 * looks like, as go-yaml keeps them when decoding into interface{}.
 */
const GO_YAML = {
  version: "1.1",
  merge: true,
  uniqueKeys: false,
  customTags: (tags: Tags) => [
    ...tags.filter((t) => !(typeof t === "object" && (t.format === "TIME" || t.tag === TIMESTAMP_TAG))),
    GO_OCTAL,
  ],
} as const;
const TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp";

/** strconv.ParseInt(s, 0, 64), which go-yaml tries first, also reads Go's `0o17`. */
const GO_OCTAL = {
  identify: (v: unknown) => typeof v === "number",
  default: true,
  tag: "tag:yaml.org,2002:int",
  format: "OCT",
  test: /^[-+]?0o[0-7_]+$/,
  resolve: (s: string) => parseInt(s.replace(/_/g, "").replace("0o", ""), 8),
};

/**
 * What sigs.k8s.io/yaml's JSON conversion makes of a decoded value: `!!binary` is the string of its
 * bytes, and an infinity or NaN, which JSON cannot hold, fails the body.
 */
function asJsonValue(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v).toString("utf8");
  if (typeof v === "number" && !Number.isFinite(v)) {
    throw new Error(`json: unsupported value: ${Number.isNaN(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf"}`);
  }
  if (Array.isArray(v)) return v.map(asJsonValue);
  if (v === null || typeof v !== "object") return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) setOwn(out, k, asJsonValue(x));
  return out;
}

/**
 * The YAML parser builds a syntax tree of several objects per token before anything can be
 * refused: a 3 MiB body of a million nested `[` or a flat list of a million items would take
 * gigabytes and block the server for seconds. go-yaml stops at a nesting depth of 10,000; this
 * parser's own recursion ends near 1,000, so that is the depth limit here, with a bound on the
 * tokens too (a real report of 3 MiB in YAML has about 100,000 lines).
 */
export const MAX_YAML_DEPTH = 1000;
export const MAX_YAML_TOKENS = 250_000;

/**
 * Rejects a YAML text too deep or too large to parse safely: one cheap pass that counts brackets,
 * commas and lines wherever they are, quoted or not, so that no quote can hide the rest of a text
 * from it (a plain scalar may hold an unmatched quote).
 */
function checkYamlSize(text: string): void {
  let depth = 0;
  let tokens = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      tokens++;
      if (++depth > MAX_YAML_DEPTH) throw new Error(`yaml: exceeded max depth of ${MAX_YAML_DEPTH}`);
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      if (depth > 0) depth--;
    } else if (c === 0x2c /* , */ || c === 0x0a /* newline */) {
      if (++tokens > MAX_YAML_TOKENS)
        throw new Error(`yaml: document too large to decode (more than ${MAX_YAML_TOKENS} nodes)`);
    }
  }
}

/**
 * go-yaml decodes a mapping's value before it stores it under its key, and only then finds the key
 * taken: repeats inside a value come first, and a repeat is placed at its value's first line.
 */
function findRepeats(node: unknown, report: (at: number, key: unknown) => void): void {
  if (isSeq(node)) {
    for (const item of node.items) findRepeats(item, report);
    return;
  }
  if (!isMap(node)) return;
  const seen = new Set<string>();
  for (const pair of node.items) {
    findRepeats(pair.value, report);
    if (!isScalar(pair.key)) continue;
    const key = pair.key.value;
    // go-yaml compares resolved keys: the string "1" and the integer 1 are different keys
    const id = `${typeof key}:${String(key)}`;
    if (!seen.has(id)) {
      seen.add(id);
      continue;
    }
    const value = pair.value as { range?: [number, number, number] } | null;
    report(value?.range?.[0] ?? pair.key.range?.[0] ?? 0, key);
  }
}

/** Go's `%#v` of a decoded YAML scalar: strings quoted, numbers, booleans and null bare. */
function goValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (v === null) return "<nil>";
  return String(v);
}
