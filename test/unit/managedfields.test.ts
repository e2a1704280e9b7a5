import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../src/apimachinery/types.js";
import { fieldSetOf, leaves, leavesOf, removePath } from "../../src/apimachinery/fieldset.js";
import {
  applyConfiguration,
  changesNothing,
  managerOf,
  trackUpdate,
} from "../../src/registry/managedfields.js";
import { LAST_APPLIED, refreshLastApplied } from "../../src/registry/last-applied.js";
import { loadResources } from "../../src/resources/index.js";
import { StatusError } from "../../src/apimachinery/status.js";
import { KINDS, makeReport } from "../support/reports.js";

const def = loadResources().find((d) => d.kind === "PolicyReport")!;
const now = new Date("2026-01-02T03:04:05Z");

function report(pass: number, extra: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: def.groupVersion,
    kind: def.kind,
    metadata: { name: "r", namespace: "ns", labels: { app: "x" } },
    scope: { apiVersion: "v1", kind: "Pod", name: "p" },
    summary: { pass, fail: 1 },
    results: [{ policy: "p", result: "pass" }],
    ...extra,
  };
}

describe("field sets", () => {
  it("walk objects and maps, own lists and atomic maps whole, skip server-owned metadata", () => {
    const set = fieldSetOf(
      { ...report(1), metadata: { name: "r", uid: "u", labels: { a: "b" } } },
      def.schema,
    );
    expect(set).toEqual({
      "f:metadata": { "f:labels": { "f:a": {} } },
      "f:scope": {},
      "f:summary": { "f:pass": {}, "f:fail": {} },
      "f:results": {},
    });
    expect(leaves(set).map((p) => p.join("."))).toContain("summary.pass");
  });

  it("leavesOf() walks to the same leaves as the set, for every kind and the odd shapes", () => {
    const odd: Record<string, unknown>[] = [
      { ...report(1), metadata: {} },
      { ...report(1), metadata: { name: "r", uid: "u", resourceVersion: "3", generation: 2 } },
      { ...report(1), metadata: { labels: {}, annotations: {}, finalizers: [] } },
      { ...report(1), metadata: { labels: { a: undefined, b: "c" } }, summary: {} },
      { ...report(1), summary: { pass: undefined }, scope: undefined, source: "kyverno" },
      { ...report(1), summary: "not an object", results: {} },
      { apiVersion: def.groupVersion, kind: def.kind, metadata: "not an object" },
      { metadata: { ownerReferences: [{ uid: "u" }], annotations: { x: "1", y: "" } } },
    ];
    for (const k of KINDS) {
      const d = loadResources().find((r) => r.kind === k.kind)!;
      const made = makeReport(k, { labels: { a: "b" }, annotations: { n: "1" } });
      for (const obj of [made, ...odd]) {
        expect(leavesOf(obj, d.schema)).toEqual(leaves(fieldSetOf(obj, d.schema)));
      }
    }
  });

  it("removePath drops emptied parents", () => {
    const o: Record<string, unknown> = { a: { b: { c: 1 } }, d: 2 };
    removePath(o, ["a", "b", "c"]);
    expect(o).toEqual({ d: 2 });
  });
});

describe("managers", () => {
  it("come from fieldManager, else the user agent's program", () => {
    expect(managerOf("mine", "kubectl/v1.32")).toBe("mine");
    expect(managerOf(undefined, "kubectl/v1.32.0 (linux/amd64) kubernetes/abc")).toBe("kubectl");
  });

  it("an update owns what it changed and takes it from others", () => {
    const created = report(1);
    trackUpdate(def, undefined, created, "creator", now);
    const next = structuredClone(created);
    (next.summary as Record<string, number>).pass = 2;
    trackUpdate(def, created, next, "editor", now);
    const entries = next.metadata.managedFields as { manager: string; fieldsV1: Record<string, unknown> }[];
    const editor = entries.find((e) => e.manager === "editor")!;
    const creator = entries.find((e) => e.manager === "creator")!;
    expect(editor.fieldsV1).toEqual({ "f:summary": { "f:pass": {} } });
    expect(creator.fieldsV1["f:summary"]).toEqual({ "f:fail": {} });
  });
});

describe("update tracking", () => {
  type Entry = { manager: string; time: string; fieldsV1: Record<string, unknown> };
  const entriesOf = (o: KubeObject) => o.metadata.managedFields as unknown as Entry[];

  it("an update the caller knows changed only metadata owns the same fields as one compared in full", () => {
    const created = report(1);
    trackUpdate(def, undefined, created, "creator", now);
    const relabel = (o: KubeObject) => {
      const next = structuredClone(o);
      next.metadata.labels = { ...next.metadata.labels, "audit.kyverno.io/resource.uid": "u" };
      return next;
    };
    const [full, hinted] = [relabel(created), relabel(created)];
    trackUpdate(def, created, full, "kyverno", now);
    trackUpdate(def, created, hinted, "kyverno", now, true);
    expect(hinted.metadata.managedFields).toEqual(full.metadata.managedFields);
    expect(entriesOf(hinted).find((e) => e.manager === "kyverno")!.fieldsV1).toEqual({
      "f:metadata": { "f:labels": { "f:audit.kyverno.io/resource.uid": {} } },
    });
  });

  it("a manager rewriting its own fields keeps its set and moves its time", () => {
    const created = report(1, { metadata: { name: "r", namespace: "ns", annotations: { seq: "1" } } });
    trackUpdate(def, undefined, created, "kyverno", now);
    const owned = entriesOf(created)[0].fieldsV1;
    const next = structuredClone(created);
    (next.summary as Record<string, number>).pass = 2;
    next.metadata.annotations = { seq: "2" };
    const later = new Date(now.getTime() + 5000);
    trackUpdate(def, created, next, "kyverno", later);
    expect(entriesOf(next)).toEqual([
      expect.objectContaining({ manager: "kyverno", time: "2026-01-02T03:04:10Z", fieldsV1: owned }),
    ]);
  });

  it("a field an update drops leaves its owner; the server's annotation belongs to nobody", () => {
    const created = report(1, { metadata: { name: "r", namespace: "ns", labels: { a: "1", b: "2" } } });
    created.metadata.annotations = { "reports.kyverno.io/served-by-reports-server": "true" };
    trackUpdate(def, undefined, created, "kyverno", now);
    expect(entriesOf(created)[0].fieldsV1["f:metadata"]).toEqual({
      "f:labels": { "f:a": {}, "f:b": {} },
    });
    const next = structuredClone(created);
    next.metadata.labels = { a: "1" };
    trackUpdate(def, created, next, "other", now);
    // nobody owns a removed field: the remover gets no entry for it
    expect(entriesOf(next).map((e) => [e.manager, e.fieldsV1["f:metadata"]])).toEqual([
      ["kyverno", { "f:labels": { "f:a": {} } }],
    ]);
  });

  it("an update that changes nothing keeps managedFields as they were", () => {
    const created = report(1);
    trackUpdate(def, undefined, created, "kyverno", now);
    const next = structuredClone(created);
    trackUpdate(def, created, next, "other", new Date(now.getTime() + 60_000));
    expect(next.metadata.managedFields).toEqual(created.metadata.managedFields);
  });
});

describe("server-side apply", () => {
  it("conflicts with another manager's field unless forced", () => {
    const created = report(1);
    trackUpdate(def, undefined, created, "kubectl-create", now);
    created.metadata.resourceVersion = "5";
    let err: unknown;
    try {
      applyConfiguration(def, created, report(9), "applier", false, now);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StatusError);
    const se = err as StatusError;
    expect(se.code).toBe(409);
    expect(se.message).toBe(
      'Apply failed with 1 conflict: conflict with "kubectl-create" using wgpolicyk8s.io/v1alpha2: .summary.pass',
    );
    expect(se.details?.causes?.[0]).toMatchObject({ reason: "FieldManagerConflict", field: ".summary.pass" });
    const forced = applyConfiguration(def, created, report(9), "applier", true, now);
    expect((forced.summary as Record<string, number>).pass).toBe(9);
  });

  it("same values are shared, and fields the applier drops are removed", () => {
    const first = applyConfiguration(def, undefined, report(1, { source: "kyverno" }), "a", false, now);
    const second = applyConfiguration(def, first, report(1), "a", false, now);
    expect(second.source).toBeUndefined();
    expect((second.summary as Record<string, number>).pass).toBe(1);
    const shared = applyConfiguration(def, second, report(1), "b", false, now);
    expect((shared.metadata.managedFields as unknown[]).length).toBe(2);
  });
});

describe("a request's own managed fields", () => {
  type Entry = { manager: string; operation: string; time?: string; fieldsV1: Record<string, unknown> };
  const entriesOf = (o: KubeObject) => (o.metadata.managedFields ?? []) as unknown as Entry[];
  const importer = {
    manager: "importer",
    operation: "Update",
    apiVersion: def.groupVersion,
    time: "2025-05-05T05:05:05.123Z",
    fieldsType: "FieldsV1",
    fieldsV1: { "f:scope": {} },
  };

  it("are the base of an update when every entry decodes (times kept to the second)", () => {
    const live = report(1);
    trackUpdate(def, undefined, live, "creator", now);
    const next = structuredClone(live);
    next.metadata.managedFields = [importer];
    trackUpdate(def, live, next, "editor", now);
    expect(entriesOf(next)).toEqual([{ ...importer, time: "2025-05-05T05:05:05Z" }]);
    // every kind of path element reads, and one of a kind not known yet is let be
    const elements = {
      "f:scope": { ".": {}, "i:0": {}, "i:+1": {}, 'k:{"name":"a"}': {}, 'v:"x"': {}, "x:later": {} },
    };
    const again = structuredClone(live);
    again.metadata.managedFields = [{ ...importer, fieldsV1: elements }];
    trackUpdate(def, live, again, "editor", now);
    expect(entriesOf(again).map((e) => e.fieldsV1)).toEqual([elements]);
  });

  it("with one entry that does not decode, the stored list is the base instead", () => {
    const live = report(1);
    trackUpdate(def, undefined, live, "creator", now);
    for (const bad of [
      { operation: "Bogus" },
      { apiVersion: "" },
      { fieldsType: "" },
      { time: "yesterday" },
      // fields that are no FieldsV1 set: a non-object, a key too short, a bad key or index
      { fieldsV1: { "f:results": "str" } },
      { fieldsV1: { x: { "f:a": {} } } },
      { fieldsV1: { "f:results": { "k:not-json": {} } } },
      { fieldsV1: { "f:results": { "i:one": {} } } },
    ]) {
      const next = structuredClone(live);
      next.metadata.managedFields = [{ ...importer, ...bad }];
      next.metadata.labels = { app: "y" };
      trackUpdate(def, live, next, "editor", now);
      expect(entriesOf(next).map((e) => e.manager)).toEqual(["creator", "editor"]);
    }
  });

  it("are stored in kube-apiserver's order: Apply first, then by time, then by manager", () => {
    const live = applyConfiguration(def, undefined, report(1), "zeta", false, now);
    const later = new Date(now.getTime() + 10_000);
    const next = structuredClone(live);
    next.metadata.labels = { app: "y" };
    trackUpdate(def, live, next, "beta", later);
    const again = structuredClone(next);
    again.metadata.annotations = { note: "x" };
    trackUpdate(def, next, again, "alpha", later);
    expect(entriesOf(again).map((e) => `${e.operation}:${e.manager}`)).toEqual([
      "Apply:zeta",
      "Update:alpha",
      "Update:beta",
    ]);
  });

  it("a repeated apply after another manager's update changes nothing but times: no write", () => {
    const applied = report(1);
    const live = applyConfiguration(def, undefined, applied, "kubectl", false, now);
    const updated = structuredClone(live);
    updated.metadata.labels = { app: "x", extra: "1" };
    trackUpdate(def, live, updated, "kyverno", now);
    const reapplied = applyConfiguration(
      def,
      updated,
      applied,
      "kubectl",
      false,
      new Date(now.getTime() + 5_000),
    );
    expect(changesNothing(reapplied, updated)).toBe(true);
    const changed = applyConfiguration(
      def,
      updated,
      report(2),
      "kubectl",
      false,
      new Date(now.getTime() + 5_000),
    );
    expect(changesNothing(changed, updated)).toBe(false);
  });
});

describe("kubectl's last-applied record", () => {
  const withRecord = (record: string): KubeObject => {
    const o = report(1);
    o.metadata.annotations = { [LAST_APPLIED]: record };
    return o;
  };

  it("is rewritten as kubectl writes it: sorted keys, HTML escaped, a newline", () => {
    const result = withRecord("{}");
    refreshLastApplied(result, { ...report(1), metadata: { name: "r", labels: { a: "<b>" } } });
    const text = result.metadata.annotations![LAST_APPLIED];
    expect(text.endsWith("}\n")).toBe(true);
    expect(text).toContain('"metadata":{"labels":{"a":"\\u003cb\\u003e"},"name":"r"}');
    expect(Object.keys(JSON.parse(text) as object)).toEqual(
      [...Object.keys(JSON.parse(text) as object)].sort(),
    );
  });

  it("is left alone when empty, and dropped when it would break the annotations' size limit", () => {
    const empty = withRecord("");
    refreshLastApplied(empty, report(2));
    expect(empty.metadata.annotations![LAST_APPLIED]).toBe("");
    const big = withRecord("{}");
    const huge = report(1, {
      results: Array.from({ length: 3_000 }, (_, i) => ({ policy: `p-${i}`, message: "x".repeat(80) })),
    });
    refreshLastApplied(big, huge);
    expect(big.metadata.annotations![LAST_APPLIED]).toBeUndefined();
  });
});

describe("an object whose managed fields were reset", () => {
  const untracked = (): KubeObject => report(1);

  it("is not tracked by updates", () => {
    const live = untracked();
    const next = structuredClone(live);
    next.metadata.labels = { app: "y" };
    trackUpdate(def, live, next, "editor", now);
    expect(next.metadata.managedFields).toBeUndefined();
  });

  it("is first applied to as owned by before-first-apply: a different value conflicts", () => {
    const err = (() => {
      try {
        applyConfiguration(def, untracked(), report(2), "kubectl-client", false, now);
      } catch (e) {
        return e as StatusError;
      }
    })();
    expect(err?.code).toBe(409);
    expect(err?.message).toContain('conflict with "before-first-apply"');
    const same = applyConfiguration(def, untracked(), report(1), "kubectl-client", false, now);
    const managers = (same.metadata.managedFields as { manager: string; operation: string }[]).map(
      (e) => `${e.operation}:${e.manager}`,
    );
    expect(managers).toEqual(["Apply:kubectl-client", "Update:before-first-apply"]);
  });
});

describe("update managers beyond ten", () => {
  type Entry = { manager: string; operation: string; time: string; fieldsV1: Record<string, unknown> };
  const at = (s: number) => new Date(now.getTime() + s * 1000);
  const stamp = (s: number) =>
    at(s)
      .toISOString()
      .replace(/\.\d{3}Z$/, "Z");

  /** An object each of `managers` updated in turn, one second apart, each setting a label of its own. */
  function updatedBy(managers: string[], start?: KubeObject): KubeObject {
    let obj = start ?? report(1, { metadata: { name: "r", namespace: "ns" } });
    if (!start) trackUpdate(def, undefined, obj, "creator", now);
    managers.forEach((m, i) => {
      const next = structuredClone(obj);
      next.metadata.labels = { ...next.metadata.labels, [m]: "x" };
      trackUpdate(def, obj, next, m, at(i + 1));
      obj = next;
    });
    return obj;
  }
  const entries = (o: KubeObject) => o.metadata.managedFields as unknown as Entry[];

  it("merge the oldest into ancient-changes, which takes the newer time and both fields", () => {
    const obj = updatedBy(Array.from({ length: 10 }, (_, i) => `m${i}`));
    const list = entries(obj);
    expect(list).toHaveLength(10);
    // creator (time 0) and m0 (time 1) are the oldest: creator becomes the bucket, m0 merges into it
    expect(list.map((e) => e.manager)).toEqual([
      "ancient-changes",
      ...Array.from({ length: 9 }, (_, i) => `m${i + 1}`),
    ]);
    expect(list[0]).toMatchObject({ operation: "Update", time: stamp(1) });
    const bucket = list[0].fieldsV1 as { "f:metadata": { "f:labels": Record<string, unknown> } };
    expect(Object.keys(bucket["f:metadata"]["f:labels"])).toEqual(["f:m0"]);
    expect(bucket).toHaveProperty("f:summary");
  });

  it("do not count an entry the write itself emptied", () => {
    const obj = updatedBy(Array.from({ length: 9 }, (_, i) => `m${i}`));
    expect(entries(obj)).toHaveLength(10);
    // "late" takes over everything m0 owned: m0 leaves, and ten remain without merging
    const next = structuredClone(obj);
    next.metadata.labels = { ...next.metadata.labels, m0: "changed" };
    trackUpdate(def, obj, next, "late", at(30));
    expect(entries(next).map((e) => e.manager)).toEqual([
      "creator",
      ...Array.from({ length: 8 }, (_, i) => `m${i + 1}`),
      "late",
    ]);
  });

  it("keep merging into the one bucket as more managers come", () => {
    const obj = updatedBy(Array.from({ length: 12 }, (_, i) => `m${i}`));
    const list = entries(obj);
    expect(list).toHaveLength(10);
    expect(list.filter((e) => e.manager === "ancient-changes")).toHaveLength(1);
    expect(list.map((e) => e.manager)).not.toContain("m1");
    expect(list.map((e) => e.manager)).toContain("m3");
  });

  it("never merge appliers, and do not count them", () => {
    let obj = report(1, { metadata: { name: "r", namespace: "ns" } });
    trackUpdate(def, undefined, obj, "creator", now);
    for (const m of ["a1", "a2"]) {
      obj = applyConfiguration(
        def,
        obj,
        { ...report(1), metadata: { name: "r", namespace: "ns", annotations: { [m]: "1" } } },
        m,
        false,
        now,
      );
    }
    obj = updatedBy(
      Array.from({ length: 9 }, (_, i) => `m${i}`),
      obj,
    );
    const list = entries(obj);
    expect(list.filter((e) => e.operation === "Apply").map((e) => e.manager)).toEqual(["a1", "a2"]);
    expect(list.filter((e) => e.operation === "Update")).toHaveLength(10);
    expect(list.map((e) => e.manager)).not.toContain("ancient-changes");
  });

  it("a bucket that is not the oldest of its version is dropped, fields and all, as kube-apiserver drops it", () => {
    // ancient-changes at time 5 and ten updaters, one of them older: the eleventh update's cap keeps
    // the older one as the first of the version and reaches the bucket second
    const obj = updatedBy(Array.from({ length: 10 }, (_, i) => `m${i}`));
    const list = entries(obj).map((e) => (e.manager === "m1" ? { ...e, time: stamp(-5) } : e));
    const sent = {
      ...structuredClone(obj),
      metadata: { ...structuredClone(obj.metadata), managedFields: list },
    };
    const next = structuredClone(sent);
    next.metadata.labels = { ...next.metadata.labels, late: "x" };
    trackUpdate(def, sent as KubeObject, next as KubeObject, "late", at(30));
    const managers = entries(next as KubeObject).map((e) => e.manager);
    expect(managers).toHaveLength(10);
    expect(managers).toContain("m1");
    expect(managers).not.toContain("ancient-changes");
  });
});
