import { describe, expect, it } from "vitest";
import { get, openWatch, post, type JsonObject } from "../../support/http.js";
import { useServer } from "../../support/server.js";
import { POLICY_REPORT, makeReport, resourcePath, uniqueName } from "../../support/reports.js";
import { sleep, type SuiteContext } from "./context.js";

type List = { metadata: { resourceVersion: string; continue?: string }; items: JsonObject[] };

/**
 * 410 Expired needs history the store no longer keeps. PostgreSQL and etcd are compacted from
 * outside (as their own compaction would); the memory store keeps 10,000 changes, so it gets a
 * second server that keeps five, pushed past them by writes.
 */
export function historyTests(ctx: SuiteContext) {
  describe("history expiry (410 Expired)", () => {
    const small =
      ctx.backend === "memory" ? useServer("memory", { args: ["--watch-history-size=5"] }) : undefined;
    const server = () => (small ? small.server() : ctx.server());
    const forget = async () => {
      if (small) {
        const ns = uniqueName("churn");
        for (let i = 0; i < 12; i++) {
          await post(
            server(),
            resourcePath(POLICY_REPORT, ns),
            makeReport(POLICY_REPORT, { name: `c${i}`, namespace: ns }),
          );
        }
        return;
      }
      await ctx.store().compact!();
    };

    it("watch, continue and Exact list from a forgotten resource version → 410 Expired", async () => {
      const srv = server();
      const ns = uniqueName("expire");
      const path = resourcePath(POLICY_REPORT, ns);
      for (const n of ["a", "b", "c"])
        await post(srv, path, makeReport(POLICY_REPORT, { name: n, namespace: ns }));
      const page = (await get(srv, `${path}?limit=1`)).json<List>();
      const oldRv = page.metadata.resourceVersion;
      // Two writes after oldRv: a compaction at revision R keeps R itself, and a watch from oldRv
      // needs oldRv + 1, so the compaction must land past it.
      await post(srv, path, makeReport(POLICY_REPORT, { name: "d", namespace: ns }));
      await post(srv, path, makeReport(POLICY_REPORT, { name: "d2", namespace: ns }));
      await forget();
      await post(srv, path, makeReport(POLICY_REPORT, { name: "e", namespace: ns }));

      const w = await openWatch(srv, `${path}?watch=true&resourceVersion=${oldRv}`);
      expect(w.status).toBe(200);
      // The server sends the ERROR event and then ends the stream.
      const closed = await Promise.race([w.ended.then(() => true), sleep(10_000).then(() => false)]);
      w.close();
      expect(closed, `stream still open after 10 s; events: ${JSON.stringify(w.events)}`).toBe(true);
      expect(w.events).toHaveLength(1);
      const err = w.events[0];
      expect(err.type).toBe("ERROR");
      expect(err.object).toMatchObject({
        kind: "Status",
        apiVersion: "v1",
        status: "Failure",
        reason: "Expired",
        code: 410,
      });
      expect(err.object.message as string).toMatch(
        new RegExp(`^too old resource version: ${oldRv} \\(\\d+\\)$`),
      );

      // Soft from here on: each of these is its own contract, reported separately.
      expect.soft(page.metadata.continue, "the first page carries a continue token").toBeTruthy();
      const cont = await get(
        srv,
        `${path}?limit=1&continue=${encodeURIComponent(page.metadata.continue ?? "")}`,
      );
      expect.soft(cont.status).toBe(410);
      expect.soft(cont.json()).toMatchObject({ kind: "Status", reason: "Expired", code: 410 });
      expect
        .soft(cont.json().message as string)
        .toMatch(/^The provided continue parameter is too old to display a consistent list result/);
      // ...and, as etcd3's handleCompactedErrorForPaging, a token that goes on at the latest state
      const rest = cont.json<{ metadata: { continue?: string } }>().metadata.continue;
      expect(rest, "the 410 carries a continue token for the rest").toBeTruthy();
      const restToken = JSON.parse(Buffer.from(rest ?? "", "base64url").toString()) as { rv: number };
      expect(restToken.rv).toBe(-1);
      const remainder = await get(srv, `${path}?continue=${encodeURIComponent(rest ?? "")}`);
      expect(remainder.status, remainder.body).toBe(200);
      expect(remainder.json<List>().items.map((i) => (i.metadata as JsonObject).name)).toEqual([
        "b",
        "c",
        "d",
        "d2",
        "e",
      ]);

      const exact = await get(srv, `${path}?resourceVersion=${oldRv}&resourceVersionMatch=Exact`);
      expect(exact.status).toBe(410);
      expect(exact.json()).toMatchObject({ reason: "Expired", code: 410 });

      // From "0" or the current resource version a watch works again (what client-go does on 410).
      const again = await openWatch(srv, `${path}?watch=true&resourceVersion=0`);
      try {
        const names: string[] = [];
        for (let i = 0; i < 6; i++) {
          const e = await again.next();
          if (e) names.push(((e.object.metadata as JsonObject).name as string) ?? "");
        }
        expect(names.sort()).toEqual(["a", "b", "c", "d", "d2", "e"]);
      } finally {
        again.close();
      }
    });

    // Memory keeps nothing across a restart: only the durable stores are held to this.
    if (ctx.backend !== "memory")
      it("after a restart the server serves the same store, and resource versions keep growing", async () => {
        const srv = ctx.server();
        const ns = uniqueName("restart");
        const path = resourcePath(POLICY_REPORT, ns);
        const before = (
          await post(srv, path, makeReport(POLICY_REPORT, { name: "kept", namespace: ns }))
        ).json();
        const rv = BigInt((before.metadata as JsonObject).resourceVersion as string);
        await srv.restart();
        const kept = await get(srv, `${path}/kept`);
        expect(kept.status).toBe(200);
        expect((kept.json().metadata as JsonObject).uid).toBe((before.metadata as JsonObject).uid);
        const after = (
          await post(srv, path, makeReport(POLICY_REPORT, { name: "new", namespace: ns }))
        ).json();
        expect(BigInt((after.metadata as JsonObject).resourceVersion as string)).toBeGreaterThan(rv);
      });
  });
}
