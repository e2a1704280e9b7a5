import { LineCounter, isMap, isScalar, parseDocument, visit } from "yaml";

export interface ParsedYaml {
  value: unknown;
  /**
   * Every key repeated within one mapping, as the real server's strict YAML decoder (go-yaml v2 via
   * sigs.k8s.io/yaml) names them: `line 5: key "name" already set in map`, in document order.
   */
  duplicateKeys: string[];
}

/**
 * Parses a YAML request body as kube-apiserver does: a key repeated within one mapping is not an
 * error, the last one wins (what its non-strict decoder keeps), and the repeats are reported for
 * field validation to turn into warnings (Warn) or a 400 (Strict). Syntax errors throw.
 */
export function parseYamlBody(text: string): ParsedYaml {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: false, lineCounter });
  if (doc.errors.length > 0) throw doc.errors[0];
  const repeats: { at: number; text: string }[] = [];
  visit(doc, {
    Map(_key, map) {
      if (!isMap(map)) return;
      const seen = new Set<string>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        const key = pair.key.value;
        // go-yaml compares resolved keys: the string "1" and the integer 1 are different keys
        const id = `${typeof key}:${String(key)}`;
        if (!seen.has(id)) {
          seen.add(id);
          continue;
        }
        const at = pair.key.range?.[0] ?? 0;
        repeats.push({
          at,
          text: `line ${lineCounter.linePos(at).line}: key ${goValue(key)} already set in map`,
        });
      }
    },
  });
  // the visit sees a mapping's own keys before those nested in it; go-yaml reports in document order
  repeats.sort((a, b) => a.at - b.at);
  return { value: doc.toJS() as unknown, duplicateKeys: repeats.map((r) => r.text) };
}

/** Go's `%#v` of a decoded YAML scalar: strings quoted, numbers, booleans and null bare. */
function goValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (v === null) return "<nil>";
  return String(v);
}
