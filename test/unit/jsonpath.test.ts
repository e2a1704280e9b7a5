import { describe, expect, it } from "vitest";
import { compileJsonPath, compileJsonPathFirst, evalJsonPath } from "../../src/apimachinery/jsonpath.js";

const report = {
  metadata: {
    name: "r",
    labels: { "audit.kyverno.io/source": "admission", app: "web", nothing: null },
    annotations: { "a.b": "dotted" },
  },
  scope: { kind: "Pod", name: "p" },
  summary: { pass: 10, fail: 0 },
  results: [{ policy: "a" }, { policy: "b" }, { policy: "c" }],
};

describe("evalJsonPath", () => {
  it.each([
    [".scope.kind", ["Pod"]],
    ["{.scope.kind}", ["Pod"]],
    ["$.scope.kind", ["Pod"]],
    [".summary.fail", [0]],
    [".summary", [{ pass: 10, fail: 0 }]],
    [".metadata.labels['audit\\.kyverno\\.io/source']", ["admission"]],
    [".metadata.labels.audit\\.kyverno\\.io/source", ["admission"]],
    [".metadata.labels['app']", ["web"]],
    // inside brackets the key is still read as dotted fields, as client-go does
    [".metadata.annotations['a.b']", []],
    [".metadata.annotations['a\\.b']", ["dotted"]],
    [".metadata.labels.nothing", [null]],
    [".results[0].policy", ["a"]],
    [".results[2].policy", ["c"]],
    [".results[-1].policy", ["c"]],
    [".results[-3].policy", ["a"]],
    [".results[*].policy", ["a", "b", "c"]],
    [".results[0:2].policy", ["a", "b"]],
    [".results[::2].policy", ["a", "c"]],
    [".results[1:].policy", ["b", "c"]],
    [".results.*.policy", ["a", "b", "c"]],
    [".scope.*", ["Pod", "p"]],
    // missing and mistyped paths yield nothing
    [".status.phase", []],
    [".scope.kind.length", []],
    [".results.policy", []],
    [".results[3].policy", []],
    [".results[-4].policy", []],
    [".scope[0]", []],
    [".metadata.labels.constructor", []],
    [".metadata.labels.nothing.deeper", []],
  ])("%s", (path, want) => {
    expect(evalJsonPath(report, path)).toEqual(want);
  });

  it("is fail-safe on unsupported syntax and on non-objects", () => {
    expect(evalJsonPath(report, "..policy")).toEqual([]);
    expect(evalJsonPath(report, ".results[?(@.policy=='a')]")).toEqual([]);
    expect(evalJsonPath(null, ".a")).toEqual([]);
    expect(evalJsonPath("text", ".a")).toEqual([]);
    expect(evalJsonPath([1, 2], "[1]")).toEqual([2]);
  });
});

describe("compileJsonPath", () => {
  it("compiles once and evaluates per object", () => {
    const kind = compileJsonPath(".scope.kind");
    expect(kind(report)).toEqual(["Pod"]);
    expect(kind({ scope: { kind: "Namespace" } })).toEqual(["Namespace"]);
    expect(kind({})).toEqual([]);
  });

  it.each(["..a", ".a[?(@.b)]", ".a[1,2]", ".a[x]", ".a[1", "range"])("rejects %j", (path) => {
    expect(() => compileJsonPath(path)).toThrow();
  });
});

describe("compileJsonPathFirst", () => {
  it.each([
    [".scope.kind", "Pod"],
    [".metadata.labels['audit\\.kyverno\\.io/source']", "admission"],
    [".metadata.labels.nothing", null],
    [".results[*].policy", "a"],
    [".results[-1].policy", "c"],
    [".status.phase", undefined],
    [".scope.kind.length", undefined],
    [".metadata.labels.toString", undefined],
  ])("%s gives %j", (path, want) => {
    expect(compileJsonPathFirst(path)(report)).toEqual(want);
    // the same as the first of all results
    expect(compileJsonPath(path)(report)[0]).toEqual(want);
  });

  it("treats an undefined property as absent", () => {
    expect(compileJsonPathFirst(".a")({ a: undefined })).toBeUndefined();
    expect(compileJsonPath(".a")({ a: undefined })).toEqual([]);
  });
});
