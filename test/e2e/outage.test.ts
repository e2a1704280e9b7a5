import { describe, expect, it } from "vitest";
import { get, openWatch, post, put, type HttpResponse, type JsonObject } from "../support/http.js";
import { POLICY_REPORT, makeReport, resourcePath, uniqueName } from "../support/reports.js";
import type { TestServer } from "../support/server.js";
import {
  awaitChanges,
  byName,
  changes,
  describeEvent,
  listItems,
  metaOf,
  nameOf,
  replay,
  rvOf,
  rvOrderViolations,
  sleep,
} from "./support/events.js";
import { DURABLE_BACKENDS, useCluster } from "./support/stores.js";

/** One write the traffic loops sent, and what came of it. */
interface Attempt {
  op: "create" | "update";
  name: string;
  /** The value written into summary.pass (and, for the counter, summary.fail). */
  n: number;
  /** The body sent (creates). */
  sent?: JsonObject;
  started: number;
  ended: number;
  status: number;
  body?: string;
  error?: string;
  object?: JsonObject;
}

const acked = (a: Attempt) => a.status === 200 || a.status === 201;
const show = (a: Attempt) =>
  `${a.op} ${a.name} → ${a.error ?? a.status} after ${a.ended - a.started} ms ${a.body?.slice(0, 300) ?? ""}`.trim();
const summaryOf = (o: JsonObject) => o.summary as { pass: number; fail: number };
/** What the request timeout of a client that waits for a hang would be: far beyond the bound asserted. */
const CLIENT_TIMEOUT_MS = 20_000;
const QUICK_MS = 5_000;
const OUTAGE_MS = QUICK_MS + 2_500;

async function readyz(server: TestServer): Promise<{ status: number; body: string }> {
  try {
    const res = await get(server, "/readyz", { token: null, timeoutMs: QUICK_MS });
    return { status: res.status, body: res.body };
  } catch (err) {
    return { status: 0, body: String(err) };
  }
}

async function waitReadyz(server: TestServer, status: number, timeoutMs: number): Promise<number> {
  const started = Date.now();
  let last = { status: 0, body: "" };
  while (Date.now() - started < timeoutMs) {
    last = await readyz(server);
    if (last.status === status) return Date.now() - started;
    await sleep(100);
  }
  throw new Error(
    `/readyz did not answer ${status} within ${timeoutMs} ms; last: ${last.status} ${last.body}`,
  );
}

/**
 * The store goes away while clients write, and comes back: the server answers quickly with 503
 * meanwhile (no hangs), reports not ready, recovers by itself, and what it acknowledged is stored,
 * whole, with a change history that matches the objects.
 */
describe.each(DURABLE_BACKENDS)("an outage of %s in the middle of traffic", (backend) => {
  const cluster = useCluster(backend, [[]]);

  it("gives quick 503s and a failing /readyz, recovers without a restart, and loses no acknowledged write", async () => {
    const server = cluster.servers()[0];
    const store = cluster.store();
    const ns = uniqueName("outage");
    const path = resourcePath(POLICY_REPORT, ns);
    const created = await post(server, path, makeReport(POLICY_REPORT, { name: "counter", namespace: ns }));
    expect(created.status, created.body).toBe(201);
    const from = listItems(await get(server, path)).resourceVersion;
    const early = await openWatch(server, `${path}?watch=true&resourceVersion=${from}`);
    expect(early.status, early.body).toBe(200);

    const attempts: Attempt[] = [];
    let running = true;
    const attempt = async (
      fields: Pick<Attempt, "op" | "name" | "n" | "sent">,
      send: () => Promise<HttpResponse>,
      record = true,
    ) => {
      const a: Attempt = { ...fields, started: Date.now(), ended: 0, status: 0 };
      try {
        const res = await send();
        a.status = res.status;
        if (acked(a)) a.object = res.json();
        else a.body = res.body;
      } catch (err) {
        a.error = String(err);
      }
      a.ended = Date.now();
      if (record) attempts.push(a);
      return a;
    };
    // Creators write new names; the updater bumps one counter whose two fields must always agree.
    const creator = async (id: number) => {
      for (let i = 0; running; i++) {
        const name = `c${id}-${i}`;
        const sent = makeReport(POLICY_REPORT, { name, namespace: ns, pass: i, fail: id }) as JsonObject;
        await attempt({ op: "create", name, n: i, sent }, () =>
          post(server, path, sent, { timeoutMs: CLIENT_TIMEOUT_MS }),
        );
        await sleep(25);
      }
    };
    const updater = async () => {
      let current = created.json();
      while (running) {
        const n = summaryOf(current).pass + 1;
        const next = { ...current, summary: { error: 0, fail: n, pass: n, skip: 0, warn: 0 } };
        const a = await attempt({ op: "update", name: "counter", n }, () =>
          put(server, `${path}/counter`, next, { timeoutMs: CLIENT_TIMEOUT_MS }),
        );
        if (a.object) current = a.object;
        else {
          // The failed write may or may not have landed: start again from what is stored.
          const now = await get(server, `${path}/counter`, { timeoutMs: CLIENT_TIMEOUT_MS }).catch(
            () => undefined,
          );
          if (now?.status === 200) current = now.json();
        }
        await sleep(25);
      }
    };
    const loops = Promise.all([creator(0), creator(1), creator(2), updater()]);
    const ackedSince = (t: number, op: Attempt["op"]) =>
      attempts.some((a) => a.op === op && a.started >= t && acked(a));
    const until = async (pred: () => boolean, timeoutMs: number, what: string) => {
      const deadline = Date.now() + timeoutMs;
      while (!pred()) {
        if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
        await sleep(50);
      }
    };

    let downAt = 0;
    let restartAt = 0;
    try {
      await until(() => ackedSince(0, "create") && ackedSince(0, "update"), 10_000, "no write succeeded");
      await sleep(500);

      await store.kill();
      downAt = Date.now();
      // What any client sees during the outage: a quick 503 Status.
      const probe = { op: "create", name: "probe", n: 0 } as const;
      const probes = await Promise.all([
        attempt(
          probe,
          () =>
            post(server, path, makeReport(POLICY_REPORT, { name: "probe", namespace: ns }), {
              timeoutMs: CLIENT_TIMEOUT_MS,
            }),
          false,
        ),
        attempt(
          { ...probe, name: "get" },
          () => get(server, `${path}/counter`, { timeoutMs: CLIENT_TIMEOUT_MS }),
          false,
        ),
        attempt({ ...probe, name: "list" }, () => get(server, path, { timeoutMs: CLIENT_TIMEOUT_MS }), false),
      ]);
      for (const p of probes) {
        expect(p.status, show(p)).toBe(503);
        expect(p.ended - p.started, show(p)).toBeLessThan(QUICK_MS);
        expect(JSON.parse(p.body ?? "{}"), show(p)).toMatchObject({
          kind: "Status",
          status: "Failure",
          reason: "ServiceUnavailable",
          code: 503,
        });
      }
      await waitReadyz(server, 500, QUICK_MS);
      expect((await readyz(server)).body).toContain("[-]storage failed");
      await sleep(Math.max(0, downAt + OUTAGE_MS - Date.now()));

      restartAt = Date.now();
      await store.start();
      await waitReadyz(server, 200, 30_000);
      const upAt = Date.now();
      await until(
        () => ackedSince(upAt, "create") && ackedSince(upAt, "update"),
        15_000,
        "writes did not succeed again after the store came back",
      );
    } finally {
      running = false;
      await loops;
    }

    // Every write sent while the store was down (with time left to answer before it came back)
    // got a 503 Status quickly, not a hang and not another error. (Soft: the checks of what was
    // stored below still run and report.)
    const duringOutage = attempts.filter((a) => a.started >= downAt && a.started <= restartAt - QUICK_MS);
    expect(duringOutage.length).toBeGreaterThan(0);
    expect
      .soft(duringOutage.filter((a) => a.status !== 503 || a.ended - a.started >= QUICK_MS).map(show))
      .toEqual([]);

    // The stored state after recovery.
    const final = listItems(await get(server, path));
    const items = byName(final.items);
    const creates = attempts.filter((a) => a.op === "create");
    const attemptedNames = new Set(["counter", "probe", ...creates.map((a) => a.name)]);
    expect([...items.keys()].filter((n) => !attemptedNames.has(n))).toEqual([]);
    for (const a of creates) {
      const stored = items.get(a.name);
      if (a.object) {
        // acknowledged: present, exactly as acknowledged (nobody writes it again)
        expect(stored, `acknowledged ${show(a)} is missing`).toEqual(a.object);
      } else if (stored) {
        // failed: it may have committed before the answer was lost, but then whole
        expect(summaryOf(stored), show(a)).toEqual(a.sent!.summary);
        expect(stored.results, show(a)).toEqual(a.sent!.results);
        expect(stored.scope, show(a)).toEqual(a.sent!.scope);
        expect(metaOf(stored).labels, show(a)).toEqual(metaOf(a.sent!).labels);
      }
    }
    const counter = items.get("counter");
    expect(counter).toBeDefined();
    const updates = attempts.filter((a) => a.op === "update" && a.name === "counter");
    const lastAcked = Math.max(...updates.filter(acked).map((a) => a.n));
    expect(summaryOf(counter!).pass).toBe(summaryOf(counter!).fail);
    expect(summaryOf(counter!).pass).toBeGreaterThanOrEqual(lastAcked);
    expect(summaryOf(counter!).pass).toBeLessThanOrEqual(Math.max(...updates.map((a) => a.n)));

    // The change history agrees with the objects: replaying a watch from before the outage gives
    // the listed state, and every acknowledged write is in it once, in order.
    const highest = Math.max(...final.items.map(rvOf));
    const replayWatch = await openWatch(server, `${path}?watch=true&resourceVersion=${from}`);
    try {
      expect(replayWatch.status, replayWatch.body).toBe(200);
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline && !changes(replayWatch.events).some((e) => rvOf(e.object) >= highest))
        await awaitChanges(replayWatch, changes(replayWatch.events).length + 1, 1_000);
      await sleep(300);
      const events = changes(replayWatch.events);
      expect(rvOrderViolations(events)).toEqual([]);
      const state = replay(events);
      expect(state.get("counter") ?? created.json()).toEqual(counter);
      state.set("counter", counter!);
      expect(state).toEqual(items);
      const seen = events.map((e) => `${nameOf(e.object)} ${rvOf(e.object)}`).sort();
      const ackedWrites = attempts.filter((a) => a.object).map((a) => `${a.name} ${rvOf(a.object!)}`);
      expect(ackedWrites.filter((w) => seen.filter((s) => s === w).length !== 1)).toEqual([]);

      // The watch that was open through the outage (ended or not) never skipped or repeated a change.
      const lived = changes(early.events).map(describeEvent);
      expect(lived).toEqual(events.slice(0, lived.length).map(describeEvent));
    } finally {
      replayWatch.close();
      early.close();
    }
  }, 120_000);
});
