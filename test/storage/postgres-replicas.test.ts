import { createHash } from "node:crypto";
import postgres from "postgres";
import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../src/apimachinery/types.js";
import { StorageError } from "../../src/storage/interface.js";
import type { ObjectKey, StorageResource, WatchEvent, WatchOptions } from "../../src/storage/interface.js";
import type { PostgresStorage } from "../../src/storage/postgres/index.js";
import { arrayLiteral } from "../../src/storage/postgres/codec.js";
import { migrate } from "../../src/storage/postgres/migrate.js";
import { migrations } from "../../src/storage/postgres/migrations/index.js";
import { usePrivatePostgres } from "../support/postgres.js";
import type { PrivatePostgres } from "../support/postgres.js";

/**
 * What only a shared, durable database can show: restarts, several replicas (Storage instances) on
 * one database, several clusters in one database, migrations run twice or at once, and commits that
 * land out of resource version order.
 */

let pg: PrivatePostgres;
const storage = usePrivatePostgres((started) => (pg = started));

function admin(database = pg.database) {
  return postgres({
    host: pg.host,
    port: pg.port,
    user: pg.user,
    password: pg.password,
    database,
    max: 2,
    onnotice: () => {},
  });
}

let seq = 0;
const fresh = (): StorageResource => ({
  group: "replicas.test",
  resource: `reports${++seq}`,
  namespaced: true,
});
const key = (name: string, namespace = "ns"): ObjectKey => ({ namespace, name });
const report = (k: ObjectKey, spec: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: "replicas.test/v1",
  kind: "Report",
  metadata: { name: k.name, namespace: k.namespace },
  spec,
});
const rv = (o: KubeObject): number => Number(o.metadata.resourceVersion);
const all = { labelSelector: [], fieldSelector: [] };

/**
 * Reads a watch until `done` says stop; fails after `timeoutMs`. `done` is asked again only when an
 * event arrives, so it must depend on the events alone: a condition that turns true later by itself
 * (say, writers finishing) is not seen until yet another event comes, which may be never.
 */
async function collect(
  iterable: AsyncIterable<WatchEvent>,
  done: (events: WatchEvent[]) => boolean,
  timeoutMs = 20_000,
): Promise<WatchEvent[]> {
  const events: WatchEvent[] = [];
  const it = iterable[Symbol.asyncIterator]();
  const deadline = Date.now() + timeoutMs;
  while (!done(events)) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`watch: gave up after ${events.length} events`);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const next = await Promise.race([
      it.next(),
      new Promise<never>(
        (_, reject) => (timer = setTimeout(() => reject(new Error("watch timed out")), left)),
      ),
    ]).finally(() => clearTimeout(timer));
    if (next.done) throw new Error("watch ended");
    if (next.value.type !== "BOOKMARK") events.push(next.value);
  }
  return events;
}

/** After `delayMs`, watches from the current resource version until `n` events came; returns them. */
async function firstEventsFromNow(
  store: PostgresStorage,
  r: StorageResource,
  selection: Omit<WatchOptions, "fromResourceVersion">,
  n: number,
  delayMs: number,
): Promise<{ from: number; seen: WatchEvent[] }> {
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  const from = await store.currentResourceVersion();
  const ac = new AbortController();
  try {
    const seen = await collect(
      store.watch(r, { ...selection, fromResourceVersion: from }, ac.signal),
      (e) => e.length >= n,
    );
    return { from, seen };
  } finally {
    ac.abort();
  }
}

async function thrown(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe("postgres storage across restarts and replicas", () => {
  it("keeps objects and keeps resource versions growing across a restart", async () => {
    const r = fresh();
    const first = await storage();
    const a = await first.create(r, key("a"), report(key("a"), { n: 1 }));
    const b = await first.update(r, key("a"), { ...a, spec: { n: 2 } }, rv(a));
    await first.close();

    const second = await storage();
    expect(await second.get(r, key("a"))).toEqual(b);
    expect(await second.currentResourceVersion()).toBeGreaterThanOrEqual(rv(b));
    const c = await second.create(r, key("c"), report(key("c")));
    expect(rv(c)).toBeGreaterThan(rv(b));
    const listed = await second.list(r, { ...all, consistency: { kind: "latest" } });
    expect(listed.items.map((o) => o.metadata.name)).toEqual(["a", "c"]);
    expect(listed.resourceVersion).toBeGreaterThanOrEqual(rv(c));
  });

  it("delivers a write through one replica to a watcher on another, well under a second", async () => {
    const r = fresh();
    // a slow poll, so that the NOTIFY nudge is what makes it quick
    const [writer, reader] = await Promise.all([storage(), storage({ pollIntervalMs: 5_000 })]);
    const from = await reader.currentResourceVersion();
    const ac = new AbortController();
    const watching = collect(
      reader.watch(r, { ...all, fromResourceVersion: from }, ac.signal),
      (e) => e.length >= 1,
    );
    const created = await writer.create(r, key("x"), report(key("x")));
    // from the acknowledgement: a slow commit is not the watch's latency. Without the nudge the
    // event waits for the 5 s poll; the bound leaves room for a loaded machine.
    const acked = Date.now();
    const [event] = await watching;
    const latency = Date.now() - acked;
    ac.abort();
    expect(event).toEqual({ type: "ADDED", object: created, resourceVersion: rv(created) });
    expect(latency).toBeLessThan(2_000);
  });

  // The watch is read until it holds as many events as there will be acknowledged writes, known in
  // advance. Stopping "once the writers are done and every acknowledged write was seen" hung whenever
  // the watcher had the last event before the last writer had its answer (1 run in 4 to 10 on a
  // loaded machine): collect() then waited for one more event, and none comes after the last write.
  it("shows a third replica every one of hundreds of concurrent writes through two others, once, in order", async () => {
    const r = fresh();
    const [one, two, watcher] = await Promise.all([storage(), storage(), storage()]);
    const from = await watcher.currentResourceVersion();
    const ac = new AbortController();
    const acknowledged = new Map<number, string>();
    const PER_WRITER = 150;
    const WRITES = 2 * PER_WRITER * 2;
    // well within the test's own timeout, so a lost event fails with the count it got
    const watching = collect(
      watcher.watch(r, { ...all, fromResourceVersion: from }, ac.signal),
      (events) => events.length >= WRITES,
      40_000,
    );
    const write = async (store: PostgresStorage, prefix: string) => {
      // 10 writers per replica, each creating then updating its own objects
      await Promise.all(
        Array.from({ length: 10 }, async (_, w) => {
          for (let i = 0; i < PER_WRITER / 10; i++) {
            const k = key(`${prefix}-${w}-${i}`);
            const created = await store.create(r, k, report(k, { i }));
            acknowledged.set(rv(created), `ADDED ${k.name}`);
            const updated = await store.update(r, k, { ...created, spec: { i, again: true } }, rv(created));
            acknowledged.set(rv(updated), `MODIFIED ${k.name}`);
          }
        }),
      );
    };
    // a failed write fails the test at once; the watch then ends without an unhandled rejection
    watching.catch(() => {});
    try {
      await Promise.all([write(one, "one"), write(two, "two")]);
    } catch (err) {
      ac.abort();
      throw err;
    }
    const events = await watching;
    ac.abort();

    expect(acknowledged.size).toBe(WRITES);
    const seen = events.map((e) => (e.type === "BOOKMARK" ? 0 : e.resourceVersion));
    expect(seen, "strictly increasing resource versions").toEqual([...seen].sort((a, b) => a - b));
    expect(new Set(seen).size, "each once").toBe(seen.length);
    expect(
      events.map((e) =>
        e.type === "BOOKMARK" ? "" : `${e.type} ${e.object.metadata.name}@${e.resourceVersion}`,
      ),
    ).toEqual([...acknowledged.entries()].sort(([a], [b]) => a - b).map(([v, what]) => `${what}@${v}`));
  });

  it("lets only one of two replicas win a compare-and-swap or a create", async () => {
    const r = fresh();
    const [one, two] = await Promise.all([storage(), storage()]);
    for (let round = 0; round < 20; round++) {
      const k = key(`k${round}`);
      const creates = await Promise.allSettled([one.create(r, k, report(k)), two.create(r, k, report(k))]);
      expect(creates.filter((c) => c.status === "fulfilled")).toHaveLength(1);
      const lost = creates.find((c) => c.status === "rejected");
      expect((lost as PromiseRejectedResult).reason).toMatchObject({ code: "KeyExists" });

      const current = await one.get(r, k);
      const updates = await Promise.allSettled([
        one.update(r, k, { ...current, spec: { by: "one" } }, rv(current)),
        two.update(r, k, { ...current, spec: { by: "two" } }, rv(current)),
      ]);
      const won = updates.filter((u) => u.status === "fulfilled");
      expect(won).toHaveLength(1);
      expect(updates.find((u) => u.status === "rejected")).toMatchObject({ reason: { code: "Conflict" } });
      expect(await two.get(r, k)).toEqual((won[0] as PromiseFulfilledResult<KubeObject>).value);
    }
  });

  it("answers the loser of two deletes racing on one version with KeyNotFound, as kube-apiserver does", async () => {
    const r = fresh();
    const [one, two] = await Promise.all([storage(), storage()]);
    const sql = admin();
    try {
      for (let round = 0; round < 3; round++) {
        const k = key(`d${round}`);
        const created = await one.create(r, k, report(k));
        // Both deletes start while the row is locked, so each statement's snapshot still holds the
        // row when it finally gets the lock: the loser then finds it gone (the race the e2e hit).
        const deletes = await sql.begin(async (tx) => {
          await tx`
            SELECT 1 FROM report_objects
            WHERE resource = ${`${r.group}/${r.resource}`} AND key = ${`${k.namespace}/${k.name}`} FOR UPDATE`;
          const racing = Promise.allSettled([one.delete(r, k, rv(created)), two.delete(r, k, rv(created))]);
          await new Promise((resolve) => setTimeout(resolve, 300));
          return { racing }; // not the promise itself: begin() would wait for it before committing
        });
        const outcome = (await deletes.racing)
          .map((d) => (d.status === "fulfilled" ? "ok" : d.reason.code))
          .sort();
        expect(outcome, `round ${round}`).toEqual(["KeyNotFound", "ok"]);
      }
    } finally {
      await sql.end();
    }
  });

  it("reports the pool's occupancy", async () => {
    const s = await storage({ maxOpenConns: 3 });
    const r = fresh();
    await Promise.all([1, 2, 3, 4, 5].map((n) => s.create(r, key(`p${n}`), report(key(`p${n}`)))));
    const stats = s.poolStats();
    expect(stats.size).toBeGreaterThanOrEqual(1);
    expect(stats.size).toBeLessThanOrEqual(3);
    expect(stats.waiting).toBe(0);
  });

  it("keeps clusters that share a database apart: objects, lists, counts and watches", async () => {
    const r = fresh();
    const [east, west] = await Promise.all([
      storage({ clusterName: "east" }),
      storage({ clusterName: "west" }),
    ]);
    const fromWest = await west.currentResourceVersion();
    const ac = new AbortController();
    const westEvents = collect(
      west.watch(r, { ...all, fromResourceVersion: fromWest }, ac.signal),
      (e) => e.length >= 1,
    );

    const inEast = await east.create(r, key("same"), report(key("same"), { cluster: "east" }));
    await east.create(r, key("only-east"), report(key("only-east")));
    const inWest = await west.create(r, key("same"), report(key("same"), { cluster: "west" }));

    const [first] = await westEvents;
    ac.abort();
    expect(first).toMatchObject({ type: "ADDED", object: { spec: { cluster: "west" } } });
    expect((await east.get(r, key("same"))).spec).toEqual({ cluster: "east" });
    expect((await west.get(r, key("same"))).spec).toEqual({ cluster: "west" });
    expect(await thrown(west.get(r, key("only-east")))).toMatchObject({ code: "KeyNotFound" });
    expect(await thrown(west.delete(r, key("only-east")))).toMatchObject({ code: "KeyNotFound" });
    const westList = await west.list(r, { ...all, consistency: { kind: "latest" } });
    expect(westList.items).toEqual([inWest]);
    expect(await east.count(r)).toBe(2);
    expect(await west.count(r)).toBe(1);
    await west.delete(r, key("same"), rv(inWest));
    expect(await east.get(r, key("same"))).toEqual(inEast);
  });
});

describe("postgres migrations", () => {
  it("applies each migration once when replicas start together, and again changes nothing", async () => {
    const database = await pg.createDatabase();
    const pools = [admin(database), admin(database), admin(database)];
    try {
      const log = { info() {}, warn() {}, error() {} };
      const applied = await Promise.all(pools.map((sql) => migrate(sql, log)));
      const versions = migrations.map((m) => m.version);
      expect(applied.flat()).toEqual(versions);
      const [{ n }] = await pools[0]<
        { n: string }[]
      >`SELECT count(*)::text AS n FROM report_schema_migrations`;
      expect(n).toBe(String(versions.length));

      const store = await storage({ database });
      const r = fresh();
      const kept = await store.create(r, key("kept"), report(key("kept")));
      await store.close();
      expect(await migrate(pools[1], log)).toEqual([]);
      const again = await storage({ database });
      expect(await again.get(r, key("kept"))).toEqual(kept);
    } finally {
      await Promise.all(pools.map((sql) => sql.end()));
    }
  });

  it("keeps the label index a DBA built beforehand, concurrently, instead of failing on it", async () => {
    const database = await pg.createDatabase();
    const sql = admin(database);
    try {
      const log = { info() {}, warn() {}, error() {} };
      const before = migrations.filter((m) => m.name !== "label-values-index");
      expect(before.length).toBe(migrations.length - 1);
      await migrate(sql, log, before);
      await sql.unsafe(
        "CREATE INDEX CONCURRENTLY report_objects_label_values ON report_objects USING gin (labels jsonb_path_ops)",
      );
      expect(await migrate(sql, log)).toEqual([4]);
      const indexes = await sql<{ indexname: string }[]>`
        SELECT indexname FROM pg_indexes WHERE tablename = 'report_objects' ORDER BY indexname`;
      expect(indexes.map((i) => i.indexname)).toEqual([
        "report_objects_label_values",
        "report_objects_labels",
        "report_objects_namespace",
        "report_objects_pkey",
      ]);
    } finally {
      await sql.end();
    }
  });

  it("an update of a Kyverno-sized report keeps both versions, lz4-compressed, in its changelog row, none in TOAST", async () => {
    const database = await pg.createDatabase();
    const sql = admin(database);
    const store = await storage({ database });
    try {
      // what makes a report hard to compress: the uids of the resources its results name
      const uidOf = (n: number) => createHash("sha256").update(String(n)).digest("hex").slice(0, 32);
      const results = (stamp: number) =>
        Array.from({ length: 20 }, (_, i) => ({
          policy: `policy-${i % 5}`,
          rule: `rule-${i % 7}`,
          result: i % 3 === 0 ? "fail" : "pass",
          message: `validation rule 'rule-${i % 7}' ${i % 3 === 0 ? "failed" : "passed"}`,
          resources: [{ apiVersion: "v1", kind: "Pod", name: `pod-${i}`, uid: uidOf(i) }],
          scored: true,
          source: "kyverno",
          timestamp: { seconds: 1_700_000_000 + stamp, nanos: 0 },
          category: "Pod Security Standards (Restricted)",
          severity: "medium",
        }));
      const r = fresh();
      const k = key("sized");
      const created = await store.create(r, k, report(k, { results: results(1) }));
      expect(JSON.stringify(created).length).toBeGreaterThan(4_000);
      await store.update(r, k, report(k, { results: results(2) }), rv(created), created);
      const [row] = await sql<{ data: number | null; prev: number | null; how: string; object: string }[]>`
        SELECT pg_column_size(c.data) AS data, pg_column_size(c.prev_data) AS prev,
               pg_column_compression(c.data) || '/' || pg_column_compression(c.prev_data) AS how,
               pg_column_compression(o.data) AS object
        FROM report_changelog c JOIN report_objects o USING (cluster, resource, namespace, name)
        WHERE c.kind = 'M'`;
      expect(row.data).toBeGreaterThan(0);
      expect(row.prev).toBeGreaterThan(0);
      // this PostgreSQL has lz4 (Debian builds it in), so every copy of the report uses it
      expect([row.how, row.object]).toEqual(["lz4/lz4", "lz4"]);
      const [toast] = await sql<{ bytes: string }[]>`
        SELECT pg_relation_size(reltoastrelid)::text AS bytes FROM pg_class WHERE relname = 'report_changelog'`;
      expect(toast.bytes).toBe("0");
    } finally {
      await store.close();
      await sql.end();
    }
  });

  it("with skipMigrations, starts on a current schema and refuses an empty database clearly", async () => {
    const empty = await pg.createDatabase();
    const err = await thrown(storage({ database: empty, skipMigrations: true }));
    expect(String((err as Error).message)).toMatch(
      new RegExp(`schema is at version 0.*needs ${Math.max(...migrations.map((m) => m.version))}`),
    );
    await storage({ database: empty });
    const skipping = await storage({ database: empty, skipMigrations: true });
    expect(await skipping.currentResourceVersion()).toBeGreaterThan(0);
  });
});

describe("postgres commits out of resource version order", () => {
  it("delivers a change whose transaction commits after a later one, before it, and lists wait for it", async () => {
    const r = fresh();
    const store = await storage({ clusterName: "late" });
    const from = await store.currentResourceVersion();
    const ac = new AbortController();
    const watching = collect(
      store.watch(r, { ...all, fromResourceVersion: from }, ac.signal),
      (e) => e.length >= 2,
    );

    // A writer that takes its resource version now and commits later, as a slow replica would.
    const sql = admin();
    const slow = sql.reserve();
    const conn = await slow;
    await conn`BEGIN`;
    const [{ id }] = await conn<{ id: string }[]>`
      WITH obj AS (
        INSERT INTO report_objects (cluster, resource, key, namespace, name, labels, rv, data)
        VALUES ('late', ${`${r.group}/${r.resource}`}, 'ns/slow', 'ns', 'slow', '{}', nextval('report_rv_seq'),
                '{"metadata":{"name":"slow","namespace":"ns"}}')
        RETURNING rv)
      INSERT INTO report_changelog (id, cluster, resource, namespace, name, kind, data)
      SELECT rv, 'late', ${`${r.group}/${r.resource}`}, 'ns', 'slow', 'A', '{"metadata":{"name":"slow","namespace":"ns"}}'
      FROM obj RETURNING id::text AS id`;
    const fast = await store.create(r, key("fast"), report(key("fast")));
    expect(rv(fast)).toBeGreaterThan(Number(id));

    // A list now must not answer the head: a watch from it would skip the slow change. Nor may a
    // read at exactly the head (what a continue token of "-1" becomes) leave it out.
    const listing = store.list(r, { ...all, consistency: { kind: "latest" } });
    const atHead = store.list(r, {
      ...all,
      consistency: { kind: "latest" },
      continueFrom: { after: key("a"), resourceVersion: rv(fast) },
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    await conn`COMMIT`;
    conn.release();
    await sql.end();

    const events = await watching;
    ac.abort();
    expect(
      events.map((e) => (e.type === "BOOKMARK" ? "" : `${e.object.metadata.name}@${e.resourceVersion}`)),
    ).toEqual([`slow@${id}`, `fast@${rv(fast)}`]);
    const listed = await listing;
    expect(listed.items.map((o) => o.metadata.name)).toEqual(["fast", "slow"]);
    expect(listed.resourceVersion).toBeGreaterThanOrEqual(rv(fast));
    expect((await atHead).items.map((o) => o.metadata.name)).toEqual(["fast", "slow"]);
  });

  it("a read at a version not reached yet claims no id a writer has yet to draw", async () => {
    const r = fresh();
    const store = await storage({ clusterName: "ahead" });
    const first = await store.create(r, key("a"), report(key("a")));
    const ahead = rv(first) + 1_000;
    const err = await store.list(r, { ...all, consistency: { kind: "exact", resourceVersion: ahead } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).code).toBe("TooLargeResourceVersion");
    // the next write gets the next id, as if nobody had asked
    const next = await store.create(r, key("b"), report(key("b")));
    expect(rv(next)).toBeLessThan(ahead);
  });

  it("never waits forever on an id whose transaction rolled back", async () => {
    const r = fresh();
    const store = await storage({ clusterName: "rollback" });
    const from = await store.currentResourceVersion();
    const sql = admin();
    try {
      await sql
        .begin(async (tx) => {
          await tx`SELECT nextval('report_rv_seq')`;
          throw new Error("roll back");
        })
        .catch(() => {});
    } finally {
      await sql.end();
    }
    const ac = new AbortController();
    const watching = collect(
      store.watch(r, { ...all, fromResourceVersion: from }, ac.signal),
      (e) => e.length >= 1,
      5_000,
    );
    const created = await store.create(r, key("after-gap"), report(key("after-gap")));
    const [event] = await watching;
    ac.abort();
    expect(event).toMatchObject({ type: "ADDED", resourceVersion: rv(created) });
    const listed = await store.list(r, { ...all, consistency: { kind: "latest" } });
    expect(listed.items).toEqual([created]);
  });
});

describe("postgres history window", () => {
  it("prunes the changelog after the window and answers older resume points with Compacted", async () => {
    const r = fresh();
    const database = await pg.createDatabase();
    const store = await storage({ database, historyWindowSeconds: 1, pruneIntervalMs: 200 });
    const first = await store.create(r, key("a"), report(key("a")));
    for (let i = 0; i < 20; i++)
      await store.update(r, key("a"), report(key("a"), { i }), rv(await store.get(r, key("a"))));
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const last = await store.create(r, key("b"), report(key("b")));

    const sql = admin(database);
    try {
      // pruned on the 200 ms interval once the window has passed: polled, as a loaded machine may
      // delay the prune past the wait above
      const deadline = Date.now() + 10_000;
      let n = Infinity;
      while (n > 2 && Date.now() < deadline) {
        if (n !== Infinity) await new Promise((resolve) => setTimeout(resolve, 100));
        const [row] = await sql<{ n: string }[]>`SELECT count(*)::text AS n FROM report_changelog`;
        n = Number(row.n);
      }
      expect(n).toBeLessThanOrEqual(2);
    } finally {
      await sql.end();
    }
    const ac = new AbortController();
    const old = store.watch(r, { ...all, fromResourceVersion: rv(first) }, ac.signal)[Symbol.asyncIterator]();
    const err = await thrown(old.next());
    expect(err).toBeInstanceOf(StorageError);
    expect(err).toMatchObject({ code: "Compacted" });
    const continued = await thrown(
      store.list(r, {
        ...all,
        consistency: { kind: "latest" },
        continueFrom: { after: key("a"), resourceVersion: rv(first) },
      }),
    );
    expect(continued).toMatchObject({ code: "Compacted" });
    // a recent resume point still works
    const recent = collect(
      store.watch(r, { ...all, fromResourceVersion: rv(last) - 1 }, ac.signal),
      (e) => e.length >= 1,
    );
    expect((await recent)[0]).toMatchObject({ type: "ADDED", resourceVersion: rv(last) });
    ac.abort();
  });
});

describe("postgres changelog reads for label selectors", () => {
  it("gives a label-selected watcher that subscribes mid-read the transitions of every later update", async () => {
    // objects are read for a plain watcher, but an update's previous object only once a watcher
    // has a label selector: one that arrives mid-read must still see updates leave and enter
    const r = fresh();
    const store = await storage({ pollIntervalMs: 5 });
    const k = key("flip");
    const labelled = (team: string): KubeObject => ({
      ...report(k),
      metadata: { name: k.name, namespace: k.namespace, labels: { team } },
    });
    let current = await store.create(r, k, labelled("red"));
    const written: { rv: number; team: string }[] = [{ rv: rv(current), team: "red" }];
    const plain = new AbortController();
    const everything = store.watch(r, { ...all, fromResourceVersion: rv(current) }, plain.signal);
    const draining = (async () => {
      for await (const _ of everything) if (plain.signal.aborted) break;
    })().catch(() => {});
    let writing = true;
    const writer = (async () => {
      while (writing) {
        const team = written[written.length - 1].team === "red" ? "blue" : "red";
        current = await store.update(r, k, labelled(team), rv(current));
        written.push({ rv: rv(current), team });
      }
    })();
    const red = { labelSelector: [{ key: "team", op: "=" as const, value: "red" }], fieldSelector: [] };
    try {
      for (let i = 0; i < 12; i++) {
        const { from, seen } = await firstEventsFromNow(store, r, red, 4, 15 + (i % 4) * 6);
        await expect.poll(() => written.filter((w) => w.rv > from).length).toBeGreaterThanOrEqual(4);
        const after = written.filter((w) => w.rv > from).slice(0, 4);
        expect(seen.map((e) => [e.type, e.resourceVersion])).toEqual(
          after.map((w) => [w.team === "red" ? "ADDED" : "DELETED", w.rv]),
        );
      }
    } finally {
      writing = false;
      await writer;
      plain.abort();
      await draining;
    }
  });
});

describe("postgres changelog of modifications", () => {
  const labelled = (k: ObjectKey, team: string): KubeObject => ({
    ...report(k),
    metadata: { name: k.name, namespace: k.namespace, labels: { team } },
  });
  const red = { labelSelector: [{ key: "team", op: "=" as const, value: "red" }], fieldSelector: [] };

  it("gives selectors the version an update replaced, for watchers and for pages in the past", async () => {
    const r = fresh();
    const store = await storage();
    const created = await store.create(r, key("b"), labelled(key("b"), "red"));
    const ac = new AbortController();
    const live = collect(
      store.watch(r, { ...red, fromResourceVersion: rv(created) }, ac.signal),
      (e) => e.length >= 2,
    );
    const blue = await store.update(r, key("b"), labelled(key("b"), "blue"), rv(created));
    const back = await store.update(r, key("b"), labelled(key("b"), "red"), rv(blue));
    const events = await live;
    ac.abort();
    expect(events.map((e) => [e.type, e.resourceVersion])).toEqual([
      ["DELETED", rv(blue)],
      ["ADDED", rv(back)],
    ]);
    const page = await store.list(r, {
      ...red,
      consistency: { kind: "latest" },
      continueFrom: { after: key(""), resourceVersion: rv(created) },
    });
    expect(page.items.map((o) => o.metadata.resourceVersion)).toEqual([String(rv(created))]);
  });
});

describe("postgres changelog reads", () => {
  it("writes array parameters PostgreSQL reads back as the same strings", async () => {
    const values = ['a"b', "c\\d", "e,f", "NULL", "{x}", " sp ", ""];
    const sql = admin();
    try {
      const [row] = await sql<{ a: string[] }[]>`SELECT ${arrayLiteral(values)}::text[] AS a`;
      expect(row.a).toEqual(values);
    } finally {
      await sql.end();
    }
  });

  it("gives a watcher that subscribes while nobody else watches every later write of its resource", async () => {
    // the poller reads objects only for watched resources: a watcher arriving mid-read must not
    // lose the rows that read brought without them
    const r = fresh();
    const store = await storage({ pollIntervalMs: 5 });
    let writing = true;
    let n = 0;
    const writer = (async () => {
      while (writing) {
        const k = key(`w${n++}`);
        await store.create(r, k, report(k));
      }
    })();
    try {
      for (let i = 0; i < 15; i++) {
        const { from, seen } = await firstEventsFromNow(store, r, all, 5, 20 + (i % 4) * 7);
        const listed = (await store.list(r, { ...all, consistency: { kind: "latest" } })).items
          .map(rv)
          .filter((v) => v > from)
          .sort((a, b) => a - b);
        expect(seen.map((e) => e.resourceVersion)).toEqual(listed.slice(0, 5));
      }
    } finally {
      writing = false;
      await writer;
    }
  });
});

describe("postgres paging", () => {
  it("counts the items after a page as of the first page's resource version, only without selectors", async () => {
    const r = fresh();
    const store = await storage({ clusterName: "paging" });
    for (const n of ["a", "b", "c", "d", "e"]) await store.create(r, key(n), report(key(n)));
    const latest = { kind: "latest" } as const;
    const p1 = await store.list(r, { ...all, namespace: "ns", limit: 2, consistency: latest });
    expect(p1.items.map((o) => o.metadata.name)).toEqual(["a", "b"]);
    expect(p1.remainingItemCount).toBe(3);

    // writes between pages change neither the pages nor the count
    await store.create(r, key("bb"), report(key("bb")));
    await store.delete(r, key("d"));
    const c = await store.get(r, key("c"));
    await store.update(r, key("c"), { ...c, spec: { changed: true } }, rv(c));
    const p2 = await store.list(r, {
      ...all,
      namespace: "ns",
      limit: 2,
      consistency: latest,
      continueFrom: { after: p1.continueAfter!, resourceVersion: p1.resourceVersion },
    });
    expect(p2.resourceVersion).toBe(p1.resourceVersion);
    expect(p2.items.map((o) => [o.metadata.name, o.spec])).toEqual([
      ["c", {}],
      ["d", {}],
    ]);
    expect(p2.remainingItemCount).toBe(1);

    const selected = await store.list(r, {
      labelSelector: [{ key: "x", op: "!" }],
      fieldSelector: [],
      limit: 2,
      consistency: latest,
    });
    expect(selected.continueAfter).toBeDefined();
    expect(selected.remainingItemCount).toBeUndefined();
  });
});
