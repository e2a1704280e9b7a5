import { describe, expect, it } from "vitest";
import { del, get, openWatch, post, put, type JsonObject } from "../support/http.js";
import {
  CLUSTER_POLICY_REPORT,
  POLICY_REPORT,
  makeReport,
  resourcePath,
  uniqueName,
} from "../support/reports.js";
import type { TestServer } from "../support/server.js";
import { awaitChanges, byName, describeEvent, listItems, nameOf, rvOf, sleep } from "./support/events.js";
import { DURABLE_BACKENDS, startServerOn, useCluster } from "./support/stores.js";
import { useServer } from "../support/server.js";

/**
 * The server keeps no state of its own: a new process on the same store serves the same objects,
 * and resource versions (and the watch history behind them) carry on where the old process left off.
 */
describe.each(DURABLE_BACKENDS)("a server restarted on the same %s", (backend) => {
  const cluster = useCluster(backend, [[]]);

  const must = async (what: string, p: Promise<{ status: number; body: string; json(): JsonObject }>) => {
    const res = await p;
    if (res.status !== 200 && res.status !== 201) throw new Error(`${what} → ${res.status}: ${res.body}`);
    return res.json();
  };

  it("serves the same objects after SIGTERM, and resource versions keep growing", async () => {
    const first = cluster.servers()[0];
    const ns = uniqueName("restart");
    const path = resourcePath(POLICY_REPORT, ns);
    const cpath = resourcePath(CLUSTER_POLICY_REPORT);
    const label = `restart-test=${ns}`;
    const clusterName = (i: number) => `${ns}-c${i}`;

    let highest = 0;
    const note = (o: JsonObject) => ((highest = Math.max(highest, rvOf(o))), o);
    const objs: JsonObject[] = [];
    for (let i = 0; i < 8; i++)
      objs.push(
        note(
          await must(
            `create r${i}`,
            post(first, path, makeReport(POLICY_REPORT, { name: `r${i}`, namespace: ns, pass: i })),
          ),
        ),
      );
    for (let i = 0; i < 2; i++) {
      const body = makeReport(CLUSTER_POLICY_REPORT, {
        name: clusterName(i),
        labels: { "restart-test": ns },
      });
      note(await must(`create ${clusterName(i)}`, post(first, cpath, body)));
    }
    for (const i of [1, 2, 3]) {
      const changed = { ...objs[i], summary: { error: 0, fail: 7, pass: 7, skip: 0, warn: 0 } };
      objs[i] = note(await must(`update r${i}`, put(first, `${path}/r${i}`, changed)));
    }
    await must("delete r4", del(first, `${path}/r4`));
    const before = listItems(await get(first, path));
    // Writes after `before`: a watch from its resource version must get them from the new process.
    const late = [
      note(
        await must(
          "create late",
          post(first, path, makeReport(POLICY_REPORT, { name: "late", namespace: ns })),
        ),
      ),
      note(
        await must(
          "update r0",
          put(first, `${path}/r0`, { ...objs[0], summary: { error: 0, fail: 0, pass: 9, skip: 0, warn: 0 } }),
        ),
      ),
    ];
    await must("delete r5", del(first, `${path}/r5`));
    const snapshot = listItems(await get(first, path));
    const clusterSnapshot = listItems(
      await get(first, `${cpath}?labelSelector=${encodeURIComponent(label)}`),
    );
    highest = Math.max(highest, snapshot.resourceVersion);

    await first.stop();
    const second: TestServer = await startServerOn(cluster.store());
    try {
      const now = listItems(await get(second, path));
      expect(byName(now.items)).toEqual(byName(snapshot.items));
      expect(now.resourceVersion).toBeGreaterThanOrEqual(snapshot.resourceVersion);
      const clusterNow = listItems(await get(second, `${cpath}?labelSelector=${encodeURIComponent(label)}`));
      expect(byName(clusterNow.items)).toEqual(byName(clusterSnapshot.items));
      for (const o of snapshot.items) expect((await get(second, `${path}/${nameOf(o)}`)).json()).toEqual(o);
      for (const gone of ["r4", "r5"]) expect((await get(second, `${path}/${gone}`)).status).toBe(404);

      const watch = await openWatch(second, `${path}?watch=true&resourceVersion=${before.resourceVersion}`);
      expect(watch.status, watch.body).toBe(200);
      try {
        const fresh = await must(
          "create after restart",
          post(second, path, makeReport(POLICY_REPORT, { name: "after", namespace: ns })),
        );
        expect(rvOf(fresh)).toBeGreaterThan(highest);
        const updated = await must(
          "update after restart",
          put(second, `${path}/r6`, {
            ...objs[6],
            summary: { error: 1, fail: 0, pass: 0, skip: 0, warn: 0 },
          }),
        );
        expect(rvOf(updated)).toBeGreaterThan(rvOf(fresh));
        const events = await awaitChanges(watch, 5, 10_000);
        await sleep(300);
        expect(watch.events.filter((e) => e.type !== "BOOKMARK").map(describeEvent)).toEqual([
          `ADDED late ${rvOf(late[0])}`,
          `MODIFIED r0 ${rvOf(late[1])}`,
          expect.stringMatching(/^DELETED r5 \d+$/),
          `ADDED after ${rvOf(fresh)}`,
          `MODIFIED r6 ${rvOf(updated)}`,
        ]);
        expect(rvOf(events[2].object)).toBeGreaterThan(rvOf(late[1]));
        expect(rvOf(events[2].object)).toBeLessThan(rvOf(fresh));
      } finally {
        watch.close();
      }

      // A crash (SIGKILL) is no different: nothing lives in the process.
      await second.kill();
      await second.restart();
      const again = listItems(await get(second, path));
      expect(byName(again.items).size).toBe(byName(now.items).size + 1);
      const last = await must(
        "create after crash",
        post(second, path, makeReport(POLICY_REPORT, { name: "after-crash", namespace: ns })),
      );
      expect(rvOf(last)).toBeGreaterThan(again.resourceVersion);
    } finally {
      await second.stop();
    }
  });
});

/**
 * The memory backend forgets its reports on restart, but not where its resource versions stood:
 * they keep growing, so a client that knew the old process (an informer's last version, a list it
 * is paging) is told its version is too old and relists, instead of waiting unaware for versions it
 * already has while the objects it holds are gone.
 */
describe("a memory server restarted", () => {
  const fx = useServer("memory");

  it("starts above every version it gave out, and sends clients of the old one to relist (410)", async () => {
    const server = fx.server();
    const ns = uniqueName("memrestart");
    const path = resourcePath(POLICY_REPORT, ns);
    for (let i = 0; i < 3; i++) {
      const res = await post(server, path, makeReport(POLICY_REPORT, { name: `r${i}`, namespace: ns }));
      expect(res.status, res.body).toBe(201);
    }
    const before = listItems(await get(server, path));
    expect(before.items).toHaveLength(3);

    await server.kill();
    await server.restart();

    const after = listItems(await get(server, path));
    expect(after.items).toEqual([]);
    expect(after.resourceVersion).toBeGreaterThan(before.resourceVersion);
    const created = await post(server, path, makeReport(POLICY_REPORT, { name: "new", namespace: ns }));
    expect(rvOf(created.json())).toBeGreaterThan(before.resourceVersion);

    // an informer resuming its watch from the old process's version
    const watch = await openWatch(
      server,
      `${path}?watch=true&allowWatchBookmarks=true&resourceVersion=${before.resourceVersion}`,
    );
    try {
      expect(watch.status, watch.body).toBe(200);
      const first = await watch.next(5_000);
      expect(first?.type).toBe("ERROR");
      expect(first?.object).toMatchObject({ kind: "Status", code: 410, reason: "Expired" });
    } finally {
      watch.close();
    }
    // a list at the old version, exactly (as a reflector's paged relist asks for it)
    const exact = await get(
      server,
      `${path}?resourceVersion=${before.resourceVersion}&resourceVersionMatch=Exact`,
    );
    expect(exact.status, exact.body).toBe(410);
  });
});
