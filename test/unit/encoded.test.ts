import { describe, expect, it } from "vitest";
import {
  encodedLength,
  joinBytes,
  metadataBodyStart,
  withResourceVersionBytes,
  withResourceVersionJson,
  writeEncoded,
} from "../../src/storage/encoded.js";
import type { EncodedJson } from "../../src/storage/encoded.js";

/** What a decode-then-encode would answer: the reference the text splice must agree with. */
function slow(json: string, rv: string): unknown {
  const o = JSON.parse(json) as { metadata: Record<string, unknown> };
  return { ...o, metadata: { ...o.metadata, resourceVersion: rv } };
}

describe("withResourceVersionJson", () => {
  const cases: Record<string, unknown> = {
    "a report as stored": {
      apiVersion: "wgpolicyk8s.io/v1alpha2",
      kind: "PolicyReport",
      metadata: { name: "r", namespace: "ns", labels: { a: "b" } },
      results: [{ policy: "p", message: 'a "quoted" \\ text with "metadata":{ inside' }],
    },
    "metadata after nested metadata keys and strings that look like it": {
      spec: { metadata: { name: "inner" }, list: [{ metadata: {} }, '"metadata":{', 1, true, null] },
      "metadata\\": 1,
      note: "}]{[",
      metadata: { name: "outer" },
    },
    "empty metadata": { kind: "X", metadata: {} },
    "metadata first": { metadata: { name: "n", annotations: { "x/y": "{}" } }, kind: "K" },
    "numbers and literals before it": { a: -1.5e3, b: false, c: null, d: [], e: {}, metadata: { uid: "u" } },
    unicode: { title: "ü € 😀 \u2028", metadata: { name: "ü" } },
  };
  for (const [name, obj] of Object.entries(cases)) {
    it(`agrees with decode and encode: ${name}`, () => {
      const json = JSON.stringify(obj);
      const out = withResourceVersionJson(json, 42);
      expect(JSON.parse(out)).toEqual(slow(json, "42"));
    });
  }

  it("reads text with whitespace (as another writer may have stored it)", () => {
    const json = JSON.stringify({ kind: "K", spec: { a: [1, 2] }, metadata: { name: "n" } }, null, 2);
    expect(JSON.parse(withResourceVersionJson(json, "7"))).toEqual(slow(json, "7"));
    const empty = '{ "metadata" : { } }';
    expect(JSON.parse(withResourceVersionJson(empty, 1))).toEqual({ metadata: { resourceVersion: "1" } });
  });

  it("puts the version only on the top-level metadata", () => {
    const json = JSON.stringify({ spec: { metadata: { name: "inner" } }, metadata: { name: "outer" } });
    const out = JSON.parse(withResourceVersionJson(json, 3)) as {
      spec: { metadata: Record<string, unknown> };
    };
    expect(out.spec.metadata).toEqual({ name: "inner" });
  });

  it("falls back to decoding when there is no top-level metadata object", () => {
    expect(JSON.parse(withResourceVersionJson('{"kind":"K"}', 9))).toEqual({
      kind: "K",
      metadata: { resourceVersion: "9" },
    });
    expect(metadataBodyStart('{"metadata":null}')).toBeUndefined();
    expect(metadataBodyStart("[1]")).toBeUndefined();
    expect(metadataBodyStart('{"kind":"unterminated')).toBeUndefined();
    expect(() => withResourceVersionJson("not json", 1)).toThrow();
  });

  it("finds metadata in random objects exactly where a parser would", () => {
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const strings = ['"metadata":{', "}", "{", "[", "]", '\\"', "\\", ",", ":", "metadata", "plain"];
    const value = (depth: number): unknown => {
      switch (rand(depth > 3 ? 4 : 7)) {
        case 0:
          return strings[rand(strings.length)] + strings[rand(strings.length)];
        case 1:
          return rand(1000) - 500;
        case 2:
          return rand(2) === 0;
        case 3:
          return null;
        case 4:
          return Array.from({ length: rand(4) }, () => value(depth + 1));
        default:
          return Object.fromEntries(
            Array.from({ length: rand(4) }, () => [
              rand(3) === 0 ? "metadata" : strings[rand(strings.length)],
              value(depth + 1),
            ]),
          );
      }
    };
    for (let i = 0; i < 500; i++) {
      const before = Object.fromEntries(Array.from({ length: rand(4) }, (_, j) => [`k${j}`, value(0)]));
      const obj = { ...before, metadata: { name: `n${i}`, nested: value(1) }, tail: value(0) };
      const json = JSON.stringify(obj);
      expect(JSON.parse(withResourceVersionJson(json, i))).toEqual(slow(json, String(i)));
    }
  });
});

/** The pieces joined as writeEncoded joins them into an answer. */
function joined(e: EncodedJson): string {
  const out = Buffer.alloc(encodedLength(e) + 2, "#");
  const end = writeEncoded(e, out, 1);
  expect(end).toBe(out.length - 1);
  expect([out[0], out[end]]).toEqual([0x23, 0x23]);
  return out.toString("utf8", 1, end);
}

describe("withResourceVersionBytes", () => {
  const spliced = (obj: unknown, rv: number) => {
    const json = JSON.stringify(obj);
    const pieces = withResourceVersionBytes(Buffer.from(json), rv);
    return { json, pieces, out: JSON.parse(joined(pieces)) as unknown };
  };

  it("answers what the text splice answers, with the stored bytes as they are", () => {
    const obj = {
      apiVersion: "wgpolicyk8s.io/v1alpha2",
      kind: "PolicyReport",
      metadata: { name: "ü-r", namespace: "ns", labels: { a: "b" } },
      results: [{ policy: "p", message: '€ 😀 "metadata":{ \\ \u2028' }],
    };
    const stored = Buffer.from(JSON.stringify(obj));
    const pieces = withResourceVersionBytes(stored, 42);
    expect(joined(pieces)).toBe(withResourceVersionJson(JSON.stringify(obj), 42));
    // the stored bytes are written from where they are, not copied
    expect(pieces[0].buffer).toBe(stored.buffer);
    expect(pieces[2].buffer).toBe(stored.buffer);
  });

  it("finds metadata past the first bytes, also when the window ends inside a string or a character", () => {
    for (let pad = 490; pad < 530; pad++) {
      const obj = {
        kind: "K",
        spec: { note: "é".repeat(pad / 2) + "x".repeat(pad % 2) },
        metadata: { name: "n" },
      };
      const { json, out } = spliced(obj, pad);
      expect(out).toEqual(slow(json, String(pad)));
    }
  });

  it("handles empty metadata, also right at the end of the first bytes", () => {
    expect(spliced({ metadata: {} }, 1).out).toEqual({ metadata: { resourceVersion: "1" } });
    for (let pad = 480; pad < 520; pad++) {
      const obj = { kind: "x".repeat(pad), metadata: {}, spec: { a: 1 } };
      const text = `{"kind":"${obj.kind}","metadata":  {   }  ,"spec":{"a":1}}`;
      const pieces = withResourceVersionBytes(Buffer.from(text), 5);
      expect(JSON.parse(joined(pieces))).toEqual({ ...obj, metadata: { resourceVersion: "5" } });
    }
  });

  it("joins small pieces into a buffer of their own, not a slice of the shared pool", () => {
    const pieces = withResourceVersionBytes(Buffer.from('{"kind":"K","metadata":{"name":"n"}}'), 3);
    const one = joinBytes(pieces);
    expect(one.toString()).toBe(joined(pieces));
    expect(one.buffer.byteLength).toBe(one.length);
  });

  it("falls back to decoding when there is no top-level metadata object", () => {
    expect(JSON.parse(joined(withResourceVersionBytes(Buffer.from('{"kind":"K"}'), 9)))).toEqual({
      kind: "K",
      metadata: { resourceVersion: "9" },
    });
    expect(() => withResourceVersionBytes(Buffer.from("not json"), 1)).toThrow();
  });
});
