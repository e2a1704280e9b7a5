import { describe, expect, it } from "vitest";
import { parseYamlBody } from "../../src/apimachinery/yaml.js";

describe("YAML request bodies", () => {
  it("keeps the last of repeated keys and names each repeat by line, in document order", () => {
    const { value, duplicateKeys } = parseYamlBody(
      [
        "a: 1",
        "b:",
        "  c: 1",
        "  c: 2",
        "  1: x",
        "  '1': y",
        "  1: z",
        "a: 3",
        "list:",
        "- k: 1",
        "  k: 2",
        "",
      ].join("\n"),
    );
    expect(value).toEqual({ a: 3, b: { c: 2, "1": "z" }, list: [{ k: 2 }] });
    expect(duplicateKeys).toEqual([
      'line 4: key "c" already set in map',
      // the integer 1 and the string "1" are different keys to go-yaml: only the second 1 repeats
      "line 7: key 1 already set in map",
      'line 8: key "a" already set in map',
      'line 11: key "k" already set in map',
    ]);
  });

  it("reports a repeat inside a value before the repeated key, at its value's first line (go-yaml's order)", () => {
    const { value, duplicateKeys } = parseYamlBody("a:\n  b: 1\n  b: 2\na:\n  c: 1\n  c: 2\n");
    expect(value).toEqual({ a: { c: 2 } });
    expect(duplicateKeys).toEqual([
      'line 3: key "b" already set in map',
      'line 6: key "c" already set in map',
      'line 5: key "a" already set in map',
    ]);
  });

  it("finds repeats in JSON sent as YAML too, and none in a clean body", () => {
    expect(parseYamlBody('{"a": 1, "a": 2}')).toEqual({
      value: { a: 2 },
      duplicateKeys: ['line 1: key "a" already set in map'],
    });
    expect(parseYamlBody("a: 1\nb: [1, 1]\n").duplicateKeys).toEqual([]);
  });

  it("throws on a syntax error", () => {
    expect(() => parseYamlBody("a: [\n")).toThrow(/Flow sequence/);
  });
});
