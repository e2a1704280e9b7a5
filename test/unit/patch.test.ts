import { describe, expect, it } from "vitest";
import { applyJsonPatch, applyMergePatch, MAX_JSON_PATCH_OPERATIONS } from "../../src/apimachinery/patch.js";
import { StatusError } from "../../src/apimachinery/status.js";
import { rejection } from "../support/status.js";

/** Applies a patch and checks that neither input was touched. */
function jsonPatch(doc: unknown, patch: unknown): unknown {
  const docBefore = JSON.stringify(doc);
  const patchBefore = JSON.stringify(patch);
  try {
    return applyJsonPatch(doc, patch);
  } finally {
    expect(JSON.stringify(doc)).toBe(docBefore);
    expect(JSON.stringify(patch)).toBe(patchBefore);
  }
}

function mergePatch(doc: unknown, patch: unknown): unknown {
  const docBefore = JSON.stringify(doc);
  const patchBefore = JSON.stringify(patch);
  try {
    return applyMergePatch(doc, patch);
  } finally {
    expect(JSON.stringify(doc)).toBe(docBefore);
    expect(JSON.stringify(patch)).toBe(patchBefore);
  }
}

describe("applyJsonPatch: RFC 6902 appendix A", () => {
  const ok: [string, unknown, unknown[], unknown][] = [
    [
      "A.1 add an object member",
      { foo: "bar" },
      [{ op: "add", path: "/baz", value: "qux" }],
      { baz: "qux", foo: "bar" },
    ],
    [
      "A.2 add an array element",
      { foo: ["bar", "baz"] },
      [{ op: "add", path: "/foo/1", value: "qux" }],
      { foo: ["bar", "qux", "baz"] },
    ],
    [
      "A.3 remove an object member",
      { baz: "qux", foo: "bar" },
      [{ op: "remove", path: "/baz" }],
      { foo: "bar" },
    ],
    [
      "A.4 remove an array element",
      { foo: ["bar", "qux", "baz"] },
      [{ op: "remove", path: "/foo/1" }],
      { foo: ["bar", "baz"] },
    ],
    [
      "A.5 replace a value",
      { baz: "qux", foo: "bar" },
      [{ op: "replace", path: "/baz", value: "boo" }],
      { baz: "boo", foo: "bar" },
    ],
    [
      "A.6 move a value",
      { foo: { bar: "baz", waldo: "fred" }, qux: { corge: "grault" } },
      [{ op: "move", from: "/foo/waldo", path: "/qux/thud" }],
      { foo: { bar: "baz" }, qux: { corge: "grault", thud: "fred" } },
    ],
    [
      "A.7 move an array element",
      { foo: ["all", "grass", "cows", "eat"] },
      [{ op: "move", from: "/foo/1", path: "/foo/3" }],
      { foo: ["all", "cows", "eat", "grass"] },
    ],
    [
      "A.8 test a value (success)",
      { baz: "qux", foo: ["a", 2, "c"] },
      [
        { op: "test", path: "/baz", value: "qux" },
        { op: "test", path: "/foo/1", value: 2 },
      ],
      { baz: "qux", foo: ["a", 2, "c"] },
    ],
    [
      "A.10 add a nested member object",
      { foo: "bar" },
      [{ op: "add", path: "/child", value: { grandchild: {} } }],
      { foo: "bar", child: { grandchild: {} } },
    ],
    [
      "A.11 ignore unrecognized elements",
      { foo: "bar" },
      [{ op: "add", path: "/baz", value: "qux", xyz: 123 }],
      { foo: "bar", baz: "qux" },
    ],
    [
      "A.14 ~ escape ordering",
      { "/": 9, "~1": 10 },
      [{ op: "test", path: "/~01", value: 10 }],
      { "/": 9, "~1": 10 },
    ],
    [
      "A.16 add an array value",
      { foo: ["bar"] },
      [{ op: "add", path: "/foo/-", value: ["abc", "def"] }],
      { foo: ["bar", ["abc", "def"]] },
    ],
  ];
  it.each(ok)("%s", (_name, doc, patch, want) => {
    expect(jsonPatch(doc, patch)).toEqual(want);
  });

  const fail: [string, unknown, unknown[]][] = [
    ["A.9 test a value (error)", { baz: "qux" }, [{ op: "test", path: "/baz", value: "bar" }]],
    ["A.12 add to a nonexistent target", { foo: "bar" }, [{ op: "add", path: "/baz/bat", value: "qux" }]],
    ["A.15 comparing strings and numbers", { "/": 9, "~1": 10 }, [{ op: "test", path: "/~01", value: "10" }]],
  ];
  it.each(fail)("%s is 422 Invalid with the real server's message", (_name, doc, patch) => {
    const err = rejection(() => jsonPatch(doc, patch));
    expect(err.toStatus()).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "the server rejected our request due to an error in our request",
      reason: "Invalid",
      details: {},
      code: 422,
    });
  });
});

describe("applyJsonPatch: more cases", () => {
  const report = {
    apiVersion: "wgpolicyk8s.io/v1alpha2",
    kind: "PolicyReport",
    metadata: { name: "r", namespace: "ns", labels: { "app.kubernetes.io/managed-by": "kyverno" } },
    results: [{ policy: "p1" }, { policy: "p2" }],
    summary: { pass: 1, fail: 0 },
  };

  it.each([
    [
      "escaped key",
      [{ op: "add", path: "/metadata/labels/a~1b~0c", value: "x" }],
      (d: typeof report) => d.metadata.labels,
      { "app.kubernetes.io/managed-by": "kyverno", "a/b~c": "x" },
    ],
    [
      "copy",
      [{ op: "copy", from: "/summary", path: "/copy" }],
      (d: Record<string, unknown>) => d.copy,
      { pass: 1, fail: 0 },
    ],
    [
      "remove last element",
      [{ op: "remove", path: "/results/-1" }],
      (d: typeof report) => d.results,
      [{ policy: "p1" }],
    ],
    [
      "add at a negative index appends",
      [{ op: "add", path: "/results/-1", value: { policy: "p3" } }],
      (d: typeof report) => d.results,
      [{ policy: "p1" }, { policy: "p2" }, { policy: "p3" }],
    ],
    [
      "add at the end index",
      [{ op: "add", path: "/results/2", value: { policy: "p3" } }],
      (d: typeof report) => d.results,
      [{ policy: "p1" }, { policy: "p2" }, { policy: "p3" }],
    ],
    [
      "replace by index",
      [{ op: "replace", path: "/results/0", value: { policy: "x" } }],
      (d: typeof report) => d.results,
      [{ policy: "x" }, { policy: "p2" }],
    ],
    [
      "test that a missing member is null",
      [{ op: "test", path: "/nothing", value: null }],
      (d: typeof report) => d.summary,
      { pass: 1, fail: 0 },
    ],
  ] as [string, unknown[], (d: never) => unknown, unknown][])("%s", (_n, patch, pick, want) => {
    expect(pick(jsonPatch(report, patch) as never)).toEqual(want);
  });

  it("replaces a missing object member (evanphx v4, as kube-apiserver)", () => {
    expect(jsonPatch({ a: 1 }, [{ op: "replace", path: "/b", value: 2 }])).toEqual({ a: 1, b: 2 });
  });

  it("adds null when value is missing", () => {
    expect(jsonPatch({}, [{ op: "add", path: "/a" }])).toEqual({ a: null });
  });

  it("replaces the whole document at the root", () => {
    expect(jsonPatch({ a: 1 }, [{ op: "replace", path: "", value: { b: 2 } }])).toEqual({ b: 2 });
  });

  it("is atomic: a later failure leaves nothing applied and the input untouched", () => {
    const doc = { a: 1 };
    expect(() =>
      jsonPatch(doc, [
        { op: "add", path: "/b", value: 2 },
        { op: "test", path: "/a", value: 2 },
      ]),
    ).toThrow(StatusError);
    expect(doc).toEqual({ a: 1 });
  });

  it("does not alias the patch's values in the result", () => {
    const value = { deep: { x: 1 } };
    const out = jsonPatch({}, [{ op: "add", path: "/v", value }]) as { v: { deep: { x: number } } };
    out.v.deep.x = 2;
    expect(value.deep.x).toBe(1);
  });

  it("copies deeply", () => {
    const out = jsonPatch({ a: { b: [1] } }, [
      { op: "copy", from: "/a", path: "/c" },
      { op: "add", path: "/c/b/-", value: 2 },
    ]);
    expect(out).toEqual({ a: { b: [1] }, c: { b: [1, 2] } });
  });

  it("keeps __proto__ as data", () => {
    const out = jsonPatch({}, [{ op: "add", path: "/__proto__", value: { polluted: true } }]) as Record<
      string,
      unknown
    >;
    expect(Object.keys(out)).toEqual(["__proto__"]);
    expect((out as { polluted?: boolean }).polluted).toBeUndefined();
  });

  it("treats a null patch as empty", () => {
    expect(jsonPatch({ a: 1 }, null)).toEqual({ a: 1 });
  });

  it.each([
    ["unknown op", [{ op: "frobnicate", path: "/a" }]],
    ["missing op", [{ path: "/a" }]],
    ["missing path", [{ op: "add", value: 1 }]],
    ["path without slash", [{ op: "add", path: "", value: 1 }]],
    ["index out of range", [{ op: "add", path: "/arr/5", value: 1 }]],
    ["not an index", [{ op: "add", path: "/arr/x", value: 1 }]],
    ["remove missing member", [{ op: "remove", path: "/nope" }]],
    ["remove past the end", [{ op: "remove", path: "/arr/1" }]],
    ["replace past the end", [{ op: "replace", path: "/arr/1", value: 0 }]],
    ["move from missing", [{ op: "move", from: "/nope", path: "/b" }]],
    ["move into own child", [{ op: "move", from: "/obj", path: "/obj/x" }]],
    ["copy from missing", [{ op: "copy", from: "/nope", path: "/b" }]],
    ["through a scalar", [{ op: "add", path: "/a/b", value: 1 }]],
    ["null operation", [null]],
    ["test non-null on missing", [{ op: "test", path: "/nope", value: 1 }]],
  ])("%s is 422", (_n, patch) => {
    const err = rejection(() => jsonPatch({ a: 1, arr: [0], obj: {} }, patch));
    expect(err.code).toBe(422);
    expect(err.reason).toBe("Invalid");
  });

  it.each([
    [{ op: "add" }, "json: cannot unmarshal object into Go value of type jsonpatch.Patch"],
    ["x", "json: cannot unmarshal string into Go value of type jsonpatch.Patch"],
    [["x"], "json: cannot unmarshal string into Go value of type jsonpatch.Operation"],
    [[[]], "json: cannot unmarshal array into Go value of type jsonpatch.Operation"],
  ])("a patch that does not decode (%j) is 400", (patch, message) => {
    const err = rejection(() => jsonPatch({}, patch));
    expect(err.code).toBe(400);
    expect(err.message).toBe(message);
  });

  it("caps the number of operations at 10000 with 413", () => {
    const patch = Array.from({ length: MAX_JSON_PATCH_OPERATIONS + 1 }, () => ({
      op: "test",
      path: "/a",
      value: 1,
    }));
    const err = rejection(() => applyJsonPatch({ a: 1 }, patch));
    expect(err.code).toBe(413);
    expect(err.message).toBe(
      "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001",
    );
    expect(applyJsonPatch({ a: 1 }, patch.slice(1))).toEqual({ a: 1 });
  });

  it("stops copies that would add more than 3 MiB (JSONPatchMaxCopyBytes) with 422", () => {
    // each copy doubles the list: a 1 KB patch that would otherwise grow past any memory
    const doubling = [
      { op: "add", path: "/bogus", value: [{ a: 1, b: "x" }] },
      ...Array.from({ length: 24 }, () => ({ op: "copy", from: "/bogus", path: "/bogus/-" })),
    ];
    const err = rejection(() => applyJsonPatch({}, doubling));
    expect(err.code).toBe(422);
    expect((err.cause as Error).message).toMatch(
      /^Unable to complete the copy, the accumulated size increase of copy is \d+, exceeding the limit 3145728$/,
    );
    // copies that stay under the limit are fine
    expect((applyJsonPatch({}, doubling.slice(0, 5)) as { bogus: unknown[] }).bogus).toHaveLength(5);
  });
});

describe("applyMergePatch: RFC 7386 appendix A", () => {
  const cases: [unknown, unknown, unknown][] = [
    [{ a: "b" }, { a: "c" }, { a: "c" }],
    [{ a: "b" }, { b: "c" }, { a: "b", b: "c" }],
    [{ a: "b" }, { a: null }, {}],
    [{ a: "b", b: "c" }, { a: null }, { b: "c" }],
    [{ a: ["b"] }, { a: "c" }, { a: "c" }],
    [{ a: "c" }, { a: ["b"] }, { a: ["b"] }],
    [{ a: { b: "c" } }, { a: { b: "d", c: null } }, { a: { b: "d" } }],
    [{ a: [{ b: "c" }] }, { a: [1] }, { a: [1] }],
    [{ a: "foo" }, ["a", "b"], ["a", "b"]],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  it.each(cases)("%j + %j = %j", (doc, patch, want) => {
    expect(mergePatch(doc, patch)).toEqual(want);
  });
});

describe("applyMergePatch: kube-apiserver behaviour", () => {
  it("labels a report as kubectl label does", () => {
    const doc = { metadata: { name: "r", labels: { a: "1", b: "2" } }, summary: { pass: 1 } };
    expect(mergePatch(doc, { metadata: { labels: { b: null, c: "3" } } })).toEqual({
      metadata: { name: "r", labels: { a: "1", c: "3" } },
      summary: { pass: 1 },
    });
  });

  it.each([null, 5, "x", true])("rejects %j with 400 Invalid JSON Patch", (patch) => {
    const err = rejection(() => mergePatch({ a: 1 }, patch));
    expect(err.code).toBe(400);
    expect(err.reason).toBe("BadRequest");
    expect(err.message).toBe("Invalid JSON Patch");
  });

  it("prunes null members of inserted objects, also inside arrays, keeping null elements", () => {
    expect(mergePatch({}, { a: [{ x: null, y: 1 }, null] })).toEqual({ a: [{ y: 1 }, null] });
  });

  it("takes an array replacing an object as is (evanphx)", () => {
    expect(mergePatch({ a: { b: 1 } }, { a: [{ x: null }] })).toEqual({ a: [{ x: null }] });
  });

  it("does not read inherited properties", () => {
    expect(mergePatch({}, { constructor: { a: 1 }, toString: null })).toEqual({ constructor: { a: 1 } });
  });

  it("does not alias the inputs in the result", () => {
    const doc = { keep: { x: 1 }, merge: { y: 1 } };
    const patch = { add: { z: 1 }, merge: { w: 1 } };
    const out = mergePatch(doc, patch) as Record<string, Record<string, number>>;
    out.keep.x = 9;
    out.add.z = 9;
    out.merge.y = 9;
    expect(doc).toEqual({ keep: { x: 1 }, merge: { y: 1 } });
    expect(patch).toEqual({ add: { z: 1 }, merge: { w: 1 } });
  });
});
