import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import type { KubeObject } from "../../src/apimachinery/types.js";
import {
  compileValidator,
  decodeObject,
  duplicateFieldsOf,
  findDuplicateFields,
  validateDecoded,
  validateMetadata,
  validateObject,
} from "../../src/registry/validation.js";
import { loadResources, type ResourceDef } from "../../src/resources/index.js";
import { rejection as statusOf } from "../support/status.js";

const defs = loadResources();
const def = (kind: string): ResourceDef => {
  const d = defs.find((x) => x.kind === kind);
  if (!d) throw new Error(`no kind ${kind}`);
  return d;
};
const polr = def("PolicyReport");
const ephr = def("EphemeralReport");
const cpolr = def("ClusterPolicyReport");

const EXAMPLES = "/work/shared/reference/kyverno-examples";
function examples(file: string): Record<string, unknown>[] {
  const docs = parseAllDocuments(readFileSync(`${EXAMPLES}/${file}`, "utf8")).map(
    (d) => d.toJS() as Record<string, unknown>,
  );
  return docs.flatMap((d) =>
    d.kind === "List" || Array.isArray(d.items) ? (d.items as Record<string, unknown>[]) : [d],
  );
}
const defFor = (o: Record<string, unknown>): ResourceDef => {
  const d = defs.find((x) => x.groupVersion === o.apiVersion && x.kind === o.kind);
  if (!d) throw new Error(`no kind for ${String(o.apiVersion)} ${String(o.kind)}`);
  return d;
};

const report = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  apiVersion: "wgpolicyk8s.io/v1alpha2",
  kind: "PolicyReport",
  metadata: { name: "r1", namespace: "default" },
  results: [{ policy: "p", rule: "r", result: "pass" }],
  summary: { pass: 1, fail: 0 },
  ...extra,
});

describe("real example reports", () => {
  it("a full PolicyReport from the Kyverno docs validates cleanly in Strict mode", () => {
    const [obj] = examples("policyreport-pod.website.yaml");
    const before = structuredClone(obj);
    const { object, warnings } = validateObject(polr, obj, "Strict", { isCreate: true });
    expect(warnings).toEqual([]);
    expect(object).toEqual(before);
  });

  it("the chainsaw and website fragments have no unknown field and a valid body", () => {
    const files = [
      "clusterpolicyreport-namespace.chainsaw.yaml",
      "ephemeralreport-admission.chainsaw.yaml",
      "openreports-report-list.website.yaml",
      "policyreport-admission.chainsaw.yaml",
    ];
    const seen = new Set<string>();
    for (const f of files) {
      for (const obj of examples(f)) {
        const d = defFor(obj);
        seen.add(d.kind);
        // Fragments lack names and owner uids: check what the body says, not what it leaves out.
        const { warnings } = validateObject(d, obj, "Strict", { checkMetadata: false });
        expect(warnings).toEqual([]);
      }
    }
    expect([...seen].sort()).toEqual(["ClusterPolicyReport", "EphemeralReport", "PolicyReport", "Report"]);
  });

  it("a 19-result background scan report validates as an EphemeralReport", () => {
    const [legacy] = examples("legacy-backgroundscanreport-pss.devdocs.yaml");
    const meta = legacy.metadata as Record<string, unknown>;
    const obj = {
      ...legacy,
      apiVersion: "reports.kyverno.io/v1",
      kind: "EphemeralReport",
      spec: {
        ...(legacy.spec as Record<string, unknown>),
        owner: {
          apiVersion: "v1",
          kind: "Pod",
          name: "kyverno-admission-controller-7d998c79c4-rj7th",
          uid: meta.uid,
        },
      },
    };
    const { object } = validateObject(ephr, obj, "Strict");
    expect(((object.spec as Record<string, unknown>).results as unknown[]).length).toBe(19);
  });
});

describe("type meta", () => {
  it("rejects a body that is not an object", () => {
    const err = statusOf(() => validateObject(polr, [1], "Strict"));
    expect(err.code).toBe(400);
    expect(err.reason).toBe("BadRequest");
    expect(err.message).toMatch(/^the object provided is unrecognized \(must be of type PolicyReport\): /);
  });

  it("rejects a missing kind", () => {
    const err = statusOf(() => validateObject(polr, { apiVersion: "wgpolicyk8s.io/v1alpha2" }, "Strict"));
    expect(err.code).toBe(400);
    expect(err.message).toContain(`Object 'Kind' is missing in '{"apiVersion":"wgpolicyk8s.io/v1alpha2"}'`);
  });

  it("rejects another API version with the real server's words", () => {
    const err = statusOf(() =>
      validateObject(polr, report({ apiVersion: "wgpolicyk8s.io/v1beta1" }), "Strict"),
    );
    expect(err.code).toBe(400);
    expect(err.message).toBe(
      "the API version in the data (wgpolicyk8s.io/v1beta1) does not match the expected API version (wgpolicyk8s.io/v1alpha2)",
    );
  });

  it("rejects another kind as a 422 on the kind field", () => {
    const err = statusOf(() => validateObject(polr, report({ kind: "ClusterPolicyReport" }), "Strict"));
    expect(err.code).toBe(422);
    expect(err.details?.causes).toEqual([
      {
        reason: "FieldValueInvalid",
        field: "kind",
        message: 'Invalid value: "ClusterPolicyReport": must be PolicyReport',
      },
    ]);
  });
});

describe("unknown and duplicate fields", () => {
  const body = () =>
    report({
      bogus: 1,
      metadata: {
        name: "r1",
        namespace: "default",
        unknownMeta: "x",
        ownerReferences: [{ apiVersion: "v1", kind: "Pod", name: "p", uid: "u", extra: true }],
      },
      summary: { pass: 1, zzz: 2 },
      results: [{ policy: "p", result: "pass", nested: {} }],
    });

  it("Strict: one 400 listing duplicates, then metadata, then the sorted pruned paths", () => {
    const err = statusOf(() => validateObject(polr, body(), "Strict", { duplicates: ["metadata.name"] }));
    expect(err.code).toBe(400);
    expect(err.reason).toBe("BadRequest");
    expect(err.message).toBe(
      'PolicyReport in version "v1alpha2" cannot be handled as a PolicyReport: strict decoding error: ' +
        'duplicate field "metadata.name", unknown field "metadata.unknownMeta", ' +
        'unknown field "metadata.ownerReferences[0].extra", unknown field "bogus", ' +
        'unknown field "results[0].nested", unknown field "summary.zzz"',
    );
  });

  it("Warn: the same problems become warnings and the fields are pruned", () => {
    const { object, warnings } = validateObject(polr, body(), "Warn");
    expect(warnings).toEqual([
      'unknown field "metadata.unknownMeta"',
      'unknown field "metadata.ownerReferences[0].extra"',
      'unknown field "bogus"',
      'unknown field "results[0].nested"',
      'unknown field "summary.zzz"',
    ]);
    expect(object.bogus).toBeUndefined();
    expect(object.summary).toEqual({ pass: 1 });
    expect(object.metadata).toEqual({
      name: "r1",
      namespace: "default",
      ownerReferences: [{ apiVersion: "v1", kind: "Pod", name: "p", uid: "u" }],
    });
  });

  it("Ignore: pruned silently", () => {
    const { object, warnings } = validateObject(polr, body(), "Ignore");
    expect(warnings).toEqual([]);
    expect(object.bogus).toBeUndefined();
  });

  it("keeps everything under x-kubernetes-preserve-unknown-fields and additionalProperties", () => {
    const d = schemaDef({
      type: "object",
      properties: {
        free: {
          type: "object",
          "x-kubernetes-preserve-unknown-fields": true,
          properties: { typed: { type: "object" } },
        },
        labels: { type: "object", additionalProperties: { type: "string" } },
      },
    });
    const obj = {
      apiVersion: "test.io/v1",
      kind: "Thing",
      metadata: { name: "a" },
      free: { any: { deep: 1 }, typed: { x: 1 } },
      labels: { a: "b" },
    };
    const { object, warnings } = validateObject(d, obj, "Warn");
    expect(warnings).toEqual(['unknown field "free.typed.x"']);
    expect(object.free).toEqual({ any: { deep: 1 }, typed: {} });
    expect(object.labels).toEqual({ a: "b" });
  });

  it("findDuplicateFields finds repeats in large objects too", () => {
    const keys = Array.from({ length: 100 }, (_, i) => `"k${i}":${i}`);
    expect(findDuplicateFields(`{"m":{${keys.join(",")},"k7":0,"k99":0}}`)).toEqual(["m.k7", "m.k99"]);
  });

  it("findDuplicateFields reports repeated keys with their paths, in document order", () => {
    const text = `{"apiVersion":"v1","metadata":{"name":"a","name":"b"},"spec":{"ports":[{"p":1},{"hostPort":1,"hostPort":2}],"k\\u0041":1,"kA":2},"results":[[{"x":1,"x":2}]]}`;
    expect(findDuplicateFields(text)).toEqual([
      "metadata.name",
      "spec.ports[1].hostPort",
      "spec.kA",
      "results[0][0].x",
    ]);
    expect(findDuplicateFields(`{"a":"x,\\"a\\":","b":{"a":1}}`)).toEqual([]);
    expect(findDuplicateFields(`{"a":[{},"x",{"k":1,"k":2}],"s":"\\\\","a":{}}`)).toEqual(["a[2].k", "a"]);
  });

  it("duplicateFieldsOf, which scans only when a key may repeat, finds what the full scan finds", () => {
    const bodies = [
      `{"apiVersion":"v1","metadata":{"name":"a","labels":{"x":"1"}},"results":[{"a":1},{"b":[{"c":2}]}]}`,
      `{"metadata":{"name":"a","name":"b"}}`,
      // a key set apart from its colon is not counted: such bodies get the full scan
      `{"a" :1,"a":2}`,
      `{\n  "a"\t: 1,\n  "b": {"a" : 2, "a": 3}\n}`,
      // strings holding `":` count as keys, so a repeat never hides behind them
      `{"m":"x\\":y","m":"z"}`,
      `{"m":"\\":\\":","k":1,"k":2}`,
      `{"s":"\\":","t":1}`,
      // escaped keys: the same key twice, written two ways
      `{"k\\u0041":1,"kA":2}`,
      // two lone surrogates are both U+FFFD, as Go decodes them: one key, repeated
      `{"\\ud800":1,"\\ud801":2}`,
      `{"__proto__":{"a":1},"__proto__":{}}`,
      `{"a":[{"k":1,"k":2}],"b":[],"c":{}}`,
      // colons inside strings, after a letter, a digit, a space or an escaped quote and a space
      `{"m":"a :b","t":"12:30","m":1}`,
      `{"m":"x\\" :y","m":2}`,
      `{"m":"x\\" :y","n":2}`,
    ];
    for (const text of bodies) {
      expect(duplicateFieldsOf(text, JSON.parse(text)), text).toEqual(findDuplicateFields(text));
    }
    expect(duplicateFieldsOf(bodies[1], JSON.parse(bodies[1]))).toEqual(["metadata.name"]);
    expect(duplicateFieldsOf(bodies[2], JSON.parse(bodies[2]))).toEqual(["a"]);
    expect(duplicateFieldsOf(bodies[4], JSON.parse(bodies[4]))).toEqual(["m"]);
    expect(duplicateFieldsOf(bodies[8], JSON.parse(bodies[8]))).toEqual(["\ufffd"]);
    expect(duplicateFieldsOf(bodies[9], JSON.parse(bodies[9]))).toEqual(["__proto__"]);
    expect(duplicateFieldsOf(bodies[11], JSON.parse(bodies[11]))).toEqual(["m"]);
    expect(duplicateFieldsOf(bodies[12], JSON.parse(bodies[12]))).toEqual(["m"]);
    // a large report without repeats: the counts agree and nothing is scanned for
    const report = JSON.stringify(examples("policyreport-pod.website.yaml")[0]);
    expect(duplicateFieldsOf(report, JSON.parse(report))).toEqual([]);
  });
});

function schemaDef(schema: Record<string, unknown>): ResourceDef {
  return {
    group: "test.io",
    version: "v1",
    groupVersion: "test.io/v1",
    kind: "Thing",
    listKind: "ThingList",
    plural: "things",
    singular: "thing",
    shortNames: [],
    categories: [],
    namespaced: false,
    schema,
    printerColumns: [],
  };
}

describe("schema validation (422 Invalid)", () => {
  it("an unsupported enum value", () => {
    const obj = report({ results: [{ policy: "p", result: "bogus" }] });
    const err = statusOf(() => validateObject(polr, obj, "Strict"));
    expect(err.code).toBe(422);
    expect(err.reason).toBe("Invalid");
    expect(err.details).toMatchObject({ name: "r1", group: "wgpolicyk8s.io", kind: "PolicyReport" });
    expect(err.details?.causes).toEqual([
      {
        reason: "FieldValueNotSupported",
        field: "results[0].result",
        message: 'Unsupported value: "bogus": supported values: "pass", "fail", "warn", "error", "skip"',
      },
    ]);
    expect(err.message).toContain(
      'results[0].result: Unsupported value: "bogus": supported values: "pass", "fail", "warn", "error", "skip"',
    );
  });

  it("a wrong type", () => {
    const err = statusOf(() => validateObject(polr, report({ summary: { pass: "string" } }), "Strict"));
    expect(err.details?.causes).toEqual([
      {
        reason: "FieldValueTypeInvalid",
        field: "summary.pass",
        message: 'Invalid value: "string": summary.pass in body must be of type integer: "string"',
      },
    ]);
  });

  it("a fractional number where an integer is expected, and a number where a string is", () => {
    const obj = report({ summary: { pass: 1.5 }, scope: { kind: 3 } });
    const causes = statusOf(() => validateObject(polr, obj, "Strict")).details?.causes ?? [];
    expect(causes.map((c) => c.message).sort()).toEqual([
      'Invalid value: "integer": scope.kind in body must be of type string: "integer"',
      'Invalid value: "number": summary.pass in body must be of type integer: "number"',
    ]);
  });

  it("an integer this server cannot keep exactly (beyond ±2^53, or 1e308) is no integer, not a rounded one", () => {
    // parsed from JSON text, as a body's numbers are (the literals would already be rounded)
    for (const pass of ["9007199254740993", "9223372036854775807", "1e308", "-1e20"].map(Number)) {
      const causes = statusOf(() => validateObject(polr, report({ summary: { pass } }), "Strict")).details
        ?.causes;
      expect(causes, String(pass)).toEqual([
        {
          reason: "FieldValueTypeInvalid",
          field: "summary.pass",
          message: 'Invalid value: "number": summary.pass in body must be of type integer: "number"',
        },
      ]);
    }
    expect(() =>
      validateObject(polr, report({ summary: { pass: 9007199254740991 } }), "Strict"),
    ).not.toThrow();
  });

  it("missing required fields, nested and in lists", () => {
    const obj = {
      apiVersion: "reports.kyverno.io/v1",
      kind: "EphemeralReport",
      metadata: { name: "e", namespace: "ns" },
      spec: { owner: { apiVersion: "v1", kind: "Pod", name: "p" }, results: [{ result: "pass" }] },
    };
    const err = statusOf(() => validateObject(ephr, obj, "Strict"));
    expect(err.details?.causes).toEqual([
      { reason: "FieldValueRequired", field: "spec.owner.uid", message: "Required value" },
      { reason: "FieldValueRequired", field: "spec.results[0].policy", message: "Required value" },
    ]);
    expect(err.message).toBe(
      'EphemeralReport.reports.kyverno.io "e" is invalid: [spec.owner.uid: Required value, spec.results[0].policy: Required value]',
    );
  });

  it("a null where none is allowed counts as absent", () => {
    const obj = {
      apiVersion: "reports.kyverno.io/v1",
      kind: "EphemeralReport",
      metadata: { name: "e", namespace: "ns" },
      spec: null,
    };
    const err = statusOf(() => validateObject(ephr, obj, "Strict"));
    expect(err.details?.causes).toEqual([
      { reason: "FieldValueRequired", field: "spec", message: "Required value" },
    ]);
    const ok = validateObject(polr, report({ summary: null, scope: null }), "Strict").object;
    expect("summary" in ok || "scope" in ok).toBe(false);
  });

  it("numbers, lengths, patterns, items and int-or-string", () => {
    const d = schemaDef({
      type: "object",
      properties: {
        n: { type: "integer", minimum: 1, maximum: 10 },
        s: { type: "string", minLength: 2, maxLength: 3, pattern: "^[a-z]+$" },
        l: { type: "array", minItems: 1, maxItems: 2, items: { type: "string" } },
        m: { type: "object", additionalProperties: { type: "boolean" } },
        ios: { "x-kubernetes-int-or-string": true },
        opt: { type: "string", nullable: true },
      },
    });
    const base = { apiVersion: "test.io/v1", kind: "Thing", metadata: { name: "a" } };
    const good = { ...base, n: 5, s: "ab", l: ["x"], m: { a: true }, ios: "50%", opt: null };
    expect(validateObject(d, good, "Strict").object).toEqual(good);
    expect(validateObject(d, { ...base, ios: 3 }, "Strict").warnings).toEqual([]);

    const bad = { ...base, n: 11, s: "ABCD", l: ["x", 1, "z"], m: { a: "yes" }, ios: true };
    const causes = statusOf(() => validateObject(d, bad, "Strict")).details?.causes ?? [];
    expect(causes).toEqual([
      {
        reason: "FieldValueInvalid",
        field: "n",
        message: "Invalid value: 11: n in body should be less than or equal to 10",
      },
      { reason: "FieldValueTooLong", field: "s", message: "Too long: may not be more than 3 bytes" },
      {
        reason: "FieldValueInvalid",
        field: "s",
        message: `Invalid value: "ABCD": s in body should match '^[a-z]+$'`,
      },
      { reason: "FieldValueTooMany", field: "l", message: "Too many: 3: must have at most 2 items" },
      {
        reason: "FieldValueTypeInvalid",
        field: "l[1]",
        message: 'Invalid value: "integer": l[1] in body must be of type string: "integer"',
      },
      {
        reason: "FieldValueTypeInvalid",
        field: "m.a",
        message: 'Invalid value: "string": m.a in body must be of type boolean: "string"',
      },
      {
        reason: "FieldValueTypeInvalid",
        field: "ios",
        message: 'Invalid value: "boolean": ios in body must be of type integer,string: "boolean"',
      },
    ]);
    const low = statusOf(() => validateObject(d, { ...base, n: 0, s: "a", l: [] }, "Strict")).details?.causes;
    expect(low?.map((c) => c.message)).toEqual([
      "Invalid value: 0: n in body should be greater than or equal to 1",
      'Invalid value: "a": s in body should be at least 2 chars long',
      "Invalid value: 0: l in body should have at least 1 items",
    ]);
  });

  it("compileValidator gives the causes for an object without throwing", () => {
    const check = compileValidator(polr);
    expect(check(report())).toEqual([]);
    expect(check(report({ summary: { fail: -1, pass: "x" } }))).toHaveLength(1);
  });
});

describe("ObjectMeta", () => {
  const meta = (m: Record<string, unknown>) => ({ metadata: m }) as unknown as KubeObject;

  it("name is required unless generateName", () => {
    const err = statusOf(() => validateMetadata(polr, { namespace: "default" }, { isCreate: true }));
    expect(err.code).toBe(422);
    expect(err.details?.causes).toEqual([
      {
        reason: "FieldValueRequired",
        field: "metadata.name",
        message: "Required value: name or generateName is required",
      },
    ]);
  });

  it("name must be a DNS-1123 subdomain", () => {
    const err = statusOf(() =>
      validateMetadata(polr, { name: "Bad_Name", namespace: "default" }, { isCreate: true }),
    );
    expect(err.details?.causes).toEqual([
      {
        reason: "FieldValueInvalid",
        field: "metadata.name",
        message:
          "Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
      },
    ]);
    expect(err.message).toMatch(
      /^PolicyReport\.wgpolicyk8s\.io "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": /,
    );
  });

  it("generateName may end with a dash but must otherwise be a valid name prefix", () => {
    expect(() =>
      validateMetadata(ephr, { name: "abc-x1y2z", generateName: "abc-", namespace: "n" }, { isCreate: true }),
    ).not.toThrow();
    const err = statusOf(() =>
      validateMetadata(ephr, { name: "ok", generateName: "ABC-", namespace: "n" }, { isCreate: true }),
    );
    expect(err.details?.causes?.[0]).toMatchObject({
      field: "metadata.generateName",
      reason: "FieldValueInvalid",
    });
  });

  it("namespaced kinds need a namespace; cluster kinds refuse one", () => {
    const a = statusOf(() => validateMetadata(polr, { name: "a" }, { isCreate: true }));
    expect(a.details?.causes).toEqual([
      { reason: "FieldValueRequired", field: "metadata.namespace", message: "Required value" },
    ]);
    const b = statusOf(() => validateMetadata(cpolr, { name: "a", namespace: "x" }, { isCreate: true }));
    expect(b.details?.causes).toEqual([
      {
        reason: "FieldValueForbidden",
        field: "metadata.namespace",
        message: "Forbidden: not allowed on this type",
      },
    ]);
  });

  it("label keys and values, annotation keys and size, finalizers, owner references", () => {
    const m = {
      name: "a",
      namespace: "default",
      labels: { "bad key": "ok", good: "bad value!" },
      annotations: { "example.com/ok": "x".repeat(256 * 1024) },
      finalizers: ["example.com/fine", "a/b/c"],
      ownerReferences: [{ apiVersion: "v1", kind: "Pod", name: "p" }],
    };
    const causes = statusOf(() => validateMetadata(polr, m, { isCreate: true })).details?.causes ?? [];
    expect(causes.map((c) => `${c.field}: ${c.message}`)).toEqual([
      `metadata.labels: Invalid value: "bad key": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
      `metadata.labels: Invalid value: "bad value!": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
      "metadata.annotations: Too long: may not be more than 262144 bytes",
      `metadata.ownerReferences.uid: Invalid value: "": uid must not be empty`,
      `metadata.finalizers: Invalid value: "a/b/c": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ]);
  });

  it("owner references and finalizers as ValidateOwnerReferences and ValidateFinalizers check them", () => {
    const ref = (name: string, more: Record<string, unknown> = {}) => ({
      apiVersion: "apps/v1",
      kind: "Deployment",
      name,
      uid: `u-${name}`,
      ...more,
    });
    const m = {
      name: "a",
      namespace: "default",
      finalizers: ["orphan", "foregroundDeletion"],
      ownerReferences: [
        ref("a", { controller: true }),
        ref("b", { controller: true }),
        ref("c", { controller: true }),
        ref("d", { apiVersion: "a/b/c" }),
        ref("e", { apiVersion: "v1", kind: "Event" }),
      ],
    };
    const causes = statusOf(() => validateMetadata(polr, m, { isCreate: true })).details?.causes ?? [];
    const only = 'Only one reference can have Controller set to true. Found "true" in references for';
    expect(
      causes.map((c) => `${c.field}: ${(c.message ?? "").replace(/Invalid value: \[.*\]: /, "")}`),
    ).toEqual([
      `metadata.ownerReferences: ${only} Deployment/a and Deployment/b`,
      `metadata.ownerReferences: ${only} Deployment/a and Deployment/c`,
      'metadata.ownerReferences.apiVersion: Invalid value: "a/b/c": version must not be empty',
      `metadata.ownerReferences: Invalid value: ${JSON.stringify(m.ownerReferences[4])}: /v1, Kind=Event is disallowed from being an owner`,
      'metadata.finalizers: Invalid value: []string{"orphan", "foregroundDeletion"}: finalizer orphan and foregroundDeletion cannot be both set',
    ]);
  });

  it("the server's own annotation does not count against the 256 KiB a client may send", () => {
    const annotations = {
      "example.com/big": "x".repeat(256 * 1024 - "example.com/big".length),
      "reports.kyverno.io/served-by-reports-server": "true",
    };
    expect(() =>
      validateMetadata(polr, { name: "a", namespace: "d", annotations }, { isCreate: true }),
    ).not.toThrow();
  });

  it("times must be RFC 3339 and integers exact, as metav1.Time and int64 decode them (400)", () => {
    for (const [metadata, message] of [
      [{ creationTimestamp: "garbage" }, 'parsing time "garbage" as "2006-01-02T15:04:05Z07:00"'],
      [{ deletionTimestamp: "2026-02-30T00:00:00Z" }, 'parsing time "2026-02-30T00:00:00Z"'],
      [
        { generation: Number("1e300") },
        "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.generation of type int64",
      ],
    ] as const) {
      const err = statusOf(() =>
        validateObject(polr, report({ metadata: { name: "a", ...metadata } }), "Ignore"),
      );
      expect(err.code, JSON.stringify(metadata)).toBe(400);
      expect(err.message).toContain(message);
    }
    const ok = report({
      metadata: { name: "a", namespace: "d", creationTimestamp: "2026-01-02T03:04:05.5+01:00" },
    });
    expect(() => validateObject(polr, ok, "Strict")).not.toThrow();
  });

  it("metadata errors come before schema errors in one 422", () => {
    const obj = report({ metadata: { name: "Bad_Name", namespace: "default" }, summary: { pass: "x" } });
    const { object } = decodeObject(polr, obj, "Strict");
    const err = statusOf(() => validateDecoded(polr, object));
    expect(err.details?.causes?.map((c) => c.field)).toEqual(["metadata.name", "summary.pass"]);
    expect(() => validateDecoded(polr, meta({ name: "ok", namespace: "default" }))).not.toThrow();
  });

  it("a metadata field of the wrong type is a 400, as the decoder reports it", () => {
    const err = statusOf(() =>
      validateObject(polr, report({ metadata: { name: "a", labels: { a: 1 } } }), "Ignore"),
    );
    expect(err.code).toBe(400);
    expect(err.message).toBe(
      'PolicyReport in version "v1alpha2" cannot be handled as a PolicyReport: json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string',
    );
    const ok = validateObject(
      polr,
      report({ metadata: { name: "a", namespace: "d", creationTimestamp: null } }),
      "Strict",
    );
    expect(ok.object.metadata).toEqual({ name: "a", namespace: "d" });
  });
});

describe("ObjectMeta on update", () => {
  const old = {
    name: "a",
    namespace: "default",
    uid: "u1",
    resourceVersion: "5",
    generation: 2,
    creationTimestamp: "2025-01-01T00:00:00Z",
    finalizers: ["example.com/keep"],
  };

  it("needs a resource version and keeps name, uid and creationTimestamp", () => {
    const meta = { ...old, name: "b", uid: "u2", resourceVersion: "", generation: 1 };
    const causes =
      statusOf(() => validateMetadata(polr, meta, { isCreate: false, old })).details?.causes ?? [];
    expect(causes.map((c) => `${c.field}: ${c.message}`)).toEqual([
      'metadata.resourceVersion: Invalid value: "": must be specified for an update',
      "metadata.generation: Invalid value: 1: must not be decremented",
      'metadata.name: Invalid value: "b": field is immutable',
      'metadata.uid: Invalid value: "u2": field is immutable',
    ]);
    expect(() =>
      validateMetadata(polr, { ...old, labels: { a: "b" } }, { isCreate: false, old }),
    ).not.toThrow();
  });

  it("refuses new finalizers once the object is being deleted", () => {
    const deleting = { ...old, deletionTimestamp: "2025-01-02T00:00:00Z" };
    const meta = { ...deleting, finalizers: ["example.com/keep", "example.com/new"] };
    const causes = statusOf(() => validateMetadata(polr, meta, { isCreate: false, old: deleting })).details
      ?.causes;
    expect(causes).toEqual([
      {
        reason: "FieldValueForbidden",
        field: "metadata.finalizers",
        message:
          'Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"example.com/new"}',
      },
    ]);
  });

  it("validateObject with the old object applies the update rules, not the create rules", () => {
    const obj = report({ metadata: { ...old, name: "a" } });
    const oldObj = report({ metadata: old }) as unknown as KubeObject;
    expect(() => validateObject(polr, obj, "Strict", { old: oldObj })).not.toThrow();
    const moved = report({ metadata: { ...old, namespace: "other" } });
    const err = statusOf(() => validateObject(polr, moved, "Strict", { old: oldObj }));
    expect(err.details?.causes?.map((c) => c.message)).toEqual([
      'Invalid value: "other": field is immutable',
    ]);
  });

  it("managed fields need a known operation and fieldsType", () => {
    const meta = {
      name: "a",
      namespace: "d",
      managedFields: [{ manager: "m", operation: "Patch", fieldsType: "FieldsV1", fieldsV1: {} }],
    };
    const causes = statusOf(() => validateMetadata(polr, meta, { isCreate: true })).details?.causes;
    expect(causes).toEqual([
      {
        reason: "FieldValueNotSupported",
        field: "metadata.managedFields[0].operation",
        message: 'Unsupported value: "Patch": supported values: "Apply", "Update"',
      },
    ]);
  });

  it("findDuplicateFields leaves YAML bodies alone", () => {
    expect(findDuplicateFields("a: 1\na: 2\n")).toEqual([]);
    expect(findDuplicateFields('  \n{"a":1,"a":2}')).toEqual(["a"]);
  });
});
