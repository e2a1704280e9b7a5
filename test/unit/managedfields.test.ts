import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../src/apimachinery/types.js";
import { fieldSetOf, leaves, removePath } from "../../src/apimachinery/fieldset.js";
import { applyConfiguration, managerOf, trackUpdate } from "../../src/registry/managedfields.js";
import { loadResources } from "../../src/resources/index.js";
import { StatusError } from "../../src/apimachinery/status.js";

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
