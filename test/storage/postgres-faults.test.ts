import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeObject } from "../../src/apimachinery/types.js";
import { isStorageError } from "../../src/storage/interface.js";
import type { ObjectKey, StorageResource, WatchEvent } from "../../src/storage/interface.js";
import { createPostgresStorage } from "../../src/storage/postgres/index.js";
import type { PostgresStorage } from "../../src/storage/postgres/index.js";
import { postgresStorageOptions, startPostgres } from "../support/postgres.js";
import type { PrivatePostgres } from "../support/postgres.js";

/**
 * The database going away and coming back: clear startup errors, fast Unavailable failures instead
 * of hangs, readiness that follows the database, recovery without a new Storage, and no acknowledged
 * write lost.
 */

let pg: PrivatePostgres;

beforeAll(async () => {
  pg = await startPostgres();
});

afterAll(async () => {
  await pg?.stop();
});

const r: StorageResource = { group: "faults.test", resource: "reports", namespaced: true };
const key = (name: string): ObjectKey => ({ namespace: "ns", name });
const report = (k: ObjectKey, spec: Record<string, unknown> = {}): KubeObject => ({
  metadata: { name: k.name, namespace: k.namespace },
  spec,
});
const all = { labelSelector: [], fieldSelector: [] };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function failure(p: Promise<unknown>): Promise<{ err: unknown; ms: number }> {
  const started = Date.now();
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  return { err, ms: Date.now() - started };
}

async function eventually(check: () => Promise<unknown>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (true) {
    try {
      await check();
      return Date.now() - started;
    } catch (err) {
      if (Date.now() - started > timeoutMs) throw err;
      await sleep(200);
    }
  }
}

describe("postgres startup errors", () => {
  it("names a wrong password, a missing database and a closed port in one sentence", async () => {
    const wrongPassword = await failure(
      createPostgresStorage(postgresStorageOptions(pg, { password: "nope" })),
    );
    expect((wrongPassword.err as Error).message).toBe(
      `password authentication failed for database user "${pg.user}" (${pg.user}@${pg.host}:${pg.port}/${pg.database})`,
    );
    const noDatabase = await failure(createPostgresStorage(postgresStorageOptions(pg, { database: "nope" })));
    expect((noDatabase.err as Error).message).toBe(`database "nope" does not exist on ${pg.host}:${pg.port}`);
    const closedPort = await failure(createPostgresStorage(postgresStorageOptions(pg, { port: 1 })));
    expect((closedPort.err as Error).message).toMatch(/^database at 127\.0\.0\.1:1 refused the connection/);
    const noHost = await failure(
      createPostgresStorage(
        postgresStorageOptions(pg, { host: "no-such-host.invalid", connectTimeoutMs: 1000 }),
      ),
    );
    expect((noHost.err as Error).message).toMatch(/no-such-host\.invalid/);
  });
});

describe("postgres outages", () => {
  it("fails fast while the database is down, recovers when it returns, and loses no acknowledged write", async () => {
    const store: PostgresStorage = await createPostgresStorage(
      postgresStorageOptions(pg, { queryTimeoutMs: 2_000, connectTimeoutMs: 1_000, clusterName: "outage" }),
    );
    try {
      const from = await store.currentResourceVersion();
      const ac = new AbortController();
      const events: WatchEvent[] = [];
      const watching = (async () => {
        for await (const e of store.watch(r, { ...all, fromResourceVersion: from }, ac.signal)) {
          if (e.type !== "BOOKMARK") events.push(e);
        }
      })();

      const acknowledged: KubeObject[] = [];
      const failed: string[] = [];
      let stop = false;
      let n = 0;
      const writer = (async () => {
        while (!stop) {
          const i = n++;
          const k = key(`w${i}`);
          try {
            acknowledged.push(await store.create(r, k, report(k, { n: i })));
          } catch (err) {
            expect(err).toMatchObject({ code: "Unavailable" });
            failed.push(k.name);
            await sleep(50);
          }
        }
      })();

      // the watch is established (it has delivered a write) before the database goes away
      await eventually(async () => {
        if (events.length < 3) throw new Error("the watch has not started yet");
      }, 20_000);
      await pg.kill();
      const down = await failure(store.get(r, key("w0")));
      expect(down.err).toMatchObject({ name: "StorageError", code: "Unavailable" });
      expect(down.ms).toBeLessThan(3_000);
      const notReady = await failure(store.ready());
      expect(notReady.err).toMatchObject({ code: "Unavailable" });
      expect(notReady.ms).toBeLessThan(3_000);
      await sleep(500);

      await pg.start();
      await eventually(() => store.ready(), 20_000);
      const beforeStop = acknowledged.length;
      await eventually(async () => {
        if (acknowledged.length < beforeStop + 5) throw new Error("writes have not resumed");
      }, 20_000);
      stop = true;
      await writer;
      expect(failed.length).toBeGreaterThan(0);

      // Every acknowledged write is there, and was delivered to the watcher once and in order.
      // (retried: right after the restart a busy machine may still be slow to answer)
      await eventually(async () => {
        for (const o of acknowledged) expect(await store.get(r, key(o.metadata.name ?? ""))).toEqual(o);
      }, 20_000);
      // A last write: once the watcher has it, it has every earlier committed change too.
      await eventually(
        () =>
          store.create(r, key("sentinel"), report(key("sentinel"))).catch((err: unknown) => {
            // a timed-out first try may have committed
            if (!isStorageError(err, "KeyExists")) throw err;
          }),
        20_000,
      );
      await eventually(async () => {
        const seen = new Set(events.map((e) => (e.type === "BOOKMARK" ? "" : e.object.metadata.name)));
        for (const o of [...acknowledged, report(key("sentinel"))])
          if (!seen.has(o.metadata.name)) throw new Error(`missed ${o.metadata.name}`);
      }, 10_000);
      ac.abort();
      await watching;
      const versions = events.map((e) => e.resourceVersion);
      expect(versions).toEqual([...new Set(versions)].sort((a, b) => a - b));
      // A write that failed left either nothing or the whole object (and then its event).
      const names = new Set(events.map((e) => (e.type === "BOOKMARK" ? "" : e.object.metadata.name)));
      await eventually(async () => {
        for (const name of failed) {
          const got = await store.get(r, key(name)).catch((err: unknown) => {
            expect(err).toMatchObject({ code: "KeyNotFound" });
            return undefined;
          });
          if (got) {
            expect(got.spec).toEqual({ n: Number(name.slice(1)) });
            expect(names.has(name)).toBe(true);
          } else expect(names.has(name)).toBe(false);
        }
      }, 20_000);
    } finally {
      await store.close();
    }
  });

  it("does not hang on a database that stops answering", async () => {
    const store = await createPostgresStorage(
      postgresStorageOptions(pg, { queryTimeoutMs: 1_500, connectTimeoutMs: 1_000, clusterName: "frozen" }),
    );
    try {
      await store.create(r, key("x"), report(key("x")));
      // connections open and idle: a frozen server keeps them, and reports no error on them
      await Promise.all(Array.from({ length: 8 }, () => store.get(r, key("x"))));
      await pg.pause();
      // An answer already on its way (the poller's) may still be read after a query sent now, and
      // then that query's silence proves nothing: let such answers land first.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const frozen = await failure(store.get(r, key("x")));
      // after one query's deadline passed in silence, the rest fail at once instead of waiting theirs
      const next = await failure(store.get(r, key("x")));
      const notReady = await failure(store.ready());
      pg.resume();
      expect(frozen.err).toMatchObject({ code: "Unavailable" });
      expect(frozen.ms).toBeLessThan(3_000);
      expect(next.err).toMatchObject({ code: "Unavailable" });
      expect(next.ms).toBeLessThan(1_000);
      expect(notReady.err).toMatchObject({ code: "Unavailable" });
      expect(notReady.ms).toBeLessThan(3_000);
      await eventually(() => store.ready(), 20_000);
      await eventually(async () => expect((await store.get(r, key("x"))).metadata.name).toBe("x"), 20_000);
    } finally {
      pg.resume();
      await store.close();
    }
  });
});
