import { describe, expect, it } from "vitest";
import {
  escapeFieldValue,
  formatFieldSelector,
  matchFields,
  parseFieldSelector,
} from "../../src/apimachinery/fields.js";
import type { FieldSelector } from "../../src/apimachinery/selector-ast.js";
import { rejection } from "../support/status.js";

describe("parseFieldSelector", () => {
  const cases: [string, FieldSelector][] = [
    ["", []],
    [",", []],
    ["metadata.name=x", [{ field: "metadata.name", op: "=", value: "x" }]],
    ["metadata.name==x", [{ field: "metadata.name", op: "=", value: "x" }]],
    ["metadata.name!=x", [{ field: "metadata.name", op: "!=", value: "x" }]],
    ["metadata.name=", [{ field: "metadata.name", op: "=", value: "" }]],
    ["metadata.namespace=ns", [{ field: "metadata.namespace", op: "=", value: "ns" }]],
    [
      "metadata.namespace=ns,metadata.name=a",
      [
        { field: "metadata.name", op: "=", value: "a" },
        { field: "metadata.namespace", op: "=", value: "ns" },
      ],
    ],
    ["metadata.name=a\\,b\\=c\\\\d", [{ field: "metadata.name", op: "=", value: "a,b=c\\d" }]],
    ["metadata.name=a,", [{ field: "metadata.name", op: "=", value: "a" }]],
  ];
  it.each(cases)("parses %j", (input, want) => {
    expect(parseFieldSelector(input)).toEqual(want);
  });

  const errors: [string, string][] = [
    ["spec.foo=x", "field label not supported: spec.foo"],
    ["metadata.uid=x", "field label not supported: metadata.uid"],
    [" metadata.name=x", "field label not supported:  metadata.name"],
    ["=x", "field label not supported: "],
    ["metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"],
    ["metadata.name=x,foo", "invalid selector: 'metadata.name=x,foo'; can't understand 'foo'"],
    ["metadata.name=a=b", "invalid field selector: unescaped character in value: 61"],
    ["metadata.name=a\\x", "invalid field selector: invalid escape sequence: \\x"],
    ["metadata.name=a\\", "invalid field selector: invalid escape sequence: \\"],
    // every term is parsed before field labels are checked
    ["aaa=1,metadata.name=a\\q", "invalid field selector: invalid escape sequence: \\q"],
    // terms are checked in sorted order
    ["zzz=1,bbb=2", "field label not supported: bbb"],
  ];
  it.each(errors)("rejects %j", (input, message) => {
    const err = rejection(() => parseFieldSelector(input));
    expect(err.code).toBe(400);
    expect(err.reason).toBe("BadRequest");
    expect(err.message).toBe(message);
  });

  it("does not support metadata.namespace on cluster-scoped kinds", () => {
    const err = rejection(() => parseFieldSelector("metadata.namespace=x", { namespaced: false }));
    expect(err.message).toBe("field label not supported: metadata.namespace");
    expect(parseFieldSelector("metadata.name=x", { namespaced: false })).toHaveLength(1);
  });
});

describe("matchFields", () => {
  const meta = { name: "r1", namespace: "ns1" };
  it.each([
    ["", true],
    ["metadata.name=r1", true],
    ["metadata.name=r2", false],
    ["metadata.name!=r2", true],
    ["metadata.name!=r1", false],
    ["metadata.namespace=ns1,metadata.name=r1", true],
    ["metadata.namespace=ns2,metadata.name=r1", false],
    ["metadata.namespace!=ns2,metadata.name!=r2", true],
  ])("%j is %s", (sel, want) => {
    expect(matchFields(parseFieldSelector(sel), meta)).toBe(want);
  });

  it("matches the empty namespace of cluster-scoped objects", () => {
    expect(matchFields(parseFieldSelector("metadata.namespace="), { name: "c", namespace: "" })).toBe(true);
  });
});

describe("escapeFieldValue / formatFieldSelector", () => {
  it("round-trips values with special characters", () => {
    const value = "a,b=c\\d";
    const sel = parseFieldSelector(`metadata.name=${escapeFieldValue(value)}`);
    expect(sel).toEqual([{ field: "metadata.name", op: "=", value }]);
    expect(parseFieldSelector(formatFieldSelector(sel))).toEqual(sel);
  });

  it("writes the canonical form", () => {
    expect(formatFieldSelector(parseFieldSelector("metadata.namespace==x,metadata.name!=y"))).toBe(
      "metadata.name!=y,metadata.namespace=x",
    );
  });
});
