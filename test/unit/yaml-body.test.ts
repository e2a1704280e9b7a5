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

describe("YAML bodies too deep or too large to parse safely", () => {
  it("are refused before the parser builds its tree: a million nested brackets, a million items", () => {
    expect(() => parseYamlBody(`bogus: ${"[".repeat(1_000_000)}${"]".repeat(1_000_000)}`)).toThrow(
      "yaml: exceeded max depth of 1000",
    );
    expect(() => parseYamlBody(`bogus: [${"1,".repeat(1_000_000)}1]`)).toThrow(
      "yaml: document too large to decode (more than 250000 nodes)",
    );
    expect(() => parseYamlBody(`a: 1\n${"# c\n".repeat(300_000)}`)).toThrow("document too large");
  });

  it("a quote cannot hide what follows it from the count", () => {
    expect(() => parseYamlBody(`msg: it's "open\nbogus: ${"[".repeat(2_000)}`)).toThrow("max depth");
  });

  it("a realistic large report in YAML still decodes", () => {
    const results = Array.from(
      { length: 6000 },
      (_, i) =>
        `- policy: p${i}\n  rule: r\n  result: pass\n  message: "ok, [fine]"\n  scored: true\n  source: kyverno\n  timestamp:\n    seconds: 1700000000\n    nanos: 0\n  resources:\n  - apiVersion: v1\n    kind: Pod\n    name: p${i}\n    namespace: ns\n    uid: u${i}\n`,
    ).join("");
    const { value } = parseYamlBody(
      `apiVersion: wgpolicyk8s.io/v1alpha2\nkind: PolicyReport\nresults:\n${results}`,
    );
    expect((value as { results: unknown[] }).results).toHaveLength(6000);
  });
});

describe("YAML read as go-yaml v2 reads it (YAML 1.1, into interface{})", () => {
  it("booleans, octal, binary and hex integers, merge keys", () => {
    const { value } = parseYamlBody(
      [
        "a: yes",
        "b: off",
        "c: 017",
        "o: 0o17",
        "d: 0x1F",
        "e: 0b101",
        "f: 1_000",
        "base: &b {x: 1, z: 2}",
        "g:",
        "  <<: *b",
        "  z: 3",
        "",
      ].join("\n"),
    );
    expect(value).toEqual({
      a: true,
      b: false,
      c: 15,
      o: 15,
      d: 31,
      e: 5,
      f: 1000,
      base: { x: 1, z: 2 },
      g: { x: 1, z: 3 },
    });
  });

  it("timestamps and base-60 numbers stay strings; !!binary is the string of its bytes", () => {
    expect(
      parseYamlBody("t: 2001-12-14\nu: 2001-12-14T21:59:43.10-05:00\nd: 1:20\nb: !!binary aGVsbG8=\n").value,
    ).toEqual({
      t: "2001-12-14",
      u: "2001-12-14T21:59:43.10-05:00",
      d: "1:20",
      b: "hello",
    });
  });

  it("only the first document counts; an infinity cannot be JSON", () => {
    expect(parseYamlBody("a: 1\n---\nb: 2\n").value).toEqual({ a: 1 });
    expect(parseYamlBody("a: 1\n...\n").value).toEqual({ a: 1 });
    expect(() => parseYamlBody("a: .inf\n")).toThrow("json: unsupported value: +Inf");
  });

  it("keeps __proto__ a plain key", () => {
    const { value } = parseYamlBody('"__proto__": {polluted: true}\n');
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value as object)).toEqual(["__proto__"]);
  });
});
