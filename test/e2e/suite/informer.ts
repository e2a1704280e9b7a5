import {
  KubeConfig,
  KubernetesObjectApi,
  Watch,
  makeInformer,
  type KubernetesObject,
} from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { del, patch, post } from "../../support/http.js";
import {
  EPHEMERAL_REPORT,
  POLICY_REPORT,
  makeReport,
  resourcePath,
  uniqueName,
} from "../../support/reports.js";
import { testLabel } from "./crud.js";
import type { SuiteContext } from "./context.js";

type Report = KubernetesObject & { summary?: { pass?: number } };

/** Polls `check` until it holds (the informer delivers asynchronously). */
async function eventually(check: () => boolean, what: () => string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function informerTests(ctx: SuiteContext) {
  describe("@kubernetes/client-node 1.4.0", () => {
    it("an informer lists and watches PolicyReports and sees add, update and delete", async () => {
      const srv = ctx.server();
      const ns = uniqueName("informer");
      const path = resourcePath(POLICY_REPORT, ns);
      await post(srv, path, makeReport(POLICY_REPORT, { name: "a", namespace: ns }));

      const kc = new KubeConfig();
      kc.loadFromFile(srv.kubeconfig);
      const api = KubernetesObjectApi.makeApiClient(kc);
      const listFn = () => api.list<Report>(POLICY_REPORT.apiVersion, POLICY_REPORT.kind, ns);
      const informer = makeInformer<Report>(kc, path, listFn);
      const seen: string[] = [];
      const errors: unknown[] = [];
      informer.on("add", (o) => seen.push(`add ${o.metadata?.name}`));
      informer.on("update", (o) => seen.push(`update ${o.metadata?.name} ${o.summary?.pass}`));
      informer.on("delete", (o) => seen.push(`delete ${o.metadata?.name}`));
      informer.on("error", (e) => errors.push(e));
      await informer.start();
      try {
        await eventually(
          () => seen.includes("add a"),
          () => seen.join(", "),
        );
        await post(srv, path, makeReport(POLICY_REPORT, { name: "b", namespace: ns }));
        await eventually(
          () => seen.includes("add b"),
          () => seen.join(", "),
        );
        await patch(srv, `${path}/a`, "application/merge-patch+json", { summary: { pass: 11 } });
        await eventually(
          () => seen.includes("update a 11"),
          () => seen.join(", "),
        );
        await del(srv, `${path}/b`);
        await eventually(
          () => seen.includes("delete b"),
          () => seen.join(", "),
        );
        expect(informer.list(ns).map((o) => o.metadata?.name)).toEqual(["a"]);
        expect(informer.get("a", ns)?.summary?.pass).toBe(11);
        expect(errors).toEqual([]);
      } finally {
        await informer.stop();
      }
    });

    it("KubernetesObjectApi reads, and Watch streams cluster-wide EphemeralReports", async () => {
      const srv = ctx.server();
      const ns = uniqueName("cnwatch");
      const kc = new KubeConfig();
      kc.loadFromFile(srv.kubeconfig);
      const api = KubernetesObjectApi.makeApiClient(kc);
      const events: string[] = [];
      let ended: unknown = "open";
      const controller = await new Watch(kc).watch(
        `/apis/${EPHEMERAL_REPORT.apiVersion}/${EPHEMERAL_REPORT.plural}`,
        { labelSelector: `e2e.reports.test/id=${ns}`, allowWatchBookmarks: true },
        (phase: string, obj: KubernetesObject) =>
          events.push(`${phase} ${obj.metadata?.namespace ?? ""}/${obj.metadata?.name ?? ""}`),
        (err: unknown) => (ended = err),
      );
      try {
        const created = await api.create(
          makeReport(EPHEMERAL_REPORT, {
            name: "e",
            namespace: ns,
            labels: testLabel(ns),
          }) as KubernetesObject,
        );
        expect(created.metadata?.uid).toBeTruthy();
        const read = await api.read({
          apiVersion: EPHEMERAL_REPORT.apiVersion,
          kind: EPHEMERAL_REPORT.kind,
          metadata: { name: "e", namespace: ns },
        });
        expect(read.metadata?.uid).toBe(created.metadata?.uid);
        await api.delete({
          apiVersion: EPHEMERAL_REPORT.apiVersion,
          kind: EPHEMERAL_REPORT.kind,
          metadata: { name: "e", namespace: ns },
        });
        await eventually(
          () => events.includes(`DELETED ${ns}/e`),
          () => `${events.join(", ")} ended=${String(ended)}`,
        );
        expect(events.filter((e) => !e.startsWith("BOOKMARK"))).toEqual([`ADDED ${ns}/e`, `DELETED ${ns}/e`]);
      } finally {
        controller.abort();
      }
    });
  });
}
