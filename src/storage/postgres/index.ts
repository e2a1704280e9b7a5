import type { Sql } from "postgres";
import type { KubeObject } from "../../apimachinery/types.js";
import type { WatchFanout } from "../fanout.js";
import { StorageError } from "../interface.js";
import type {
  ListOptions,
  ListResult,
  ObjectKey,
  Storage,
  StorageResource,
  WatchEvent,
  WatchOptions,
} from "../interface.js";
import { pruneChangelog, settleIds } from "./changelog.js";
import { decodeObject, keyColumn, keyFromColumn, resourceColumn } from "./codec.js";
import { ReadBatcher } from "../read-batch.js";
import { joinBytes, withResourceVersionBytes, writtenObject } from "../encoded.js";
import { openPool } from "./connection.js";
import { describeConnectError, isUniqueViolation } from "./errors.js";
import { checkSchema, migrate } from "./migrate.js";
import { DEFAULT_CONNECT_TIMEOUT_MS, defaultPostgresOptions, silentLog } from "./options.js";
import type { PostgresOptions, StorageLog } from "./options.js";
import { ChangelogPoller } from "./poller.js";
import type { Db, PageQuery, PageRows, StoredRow } from "./queries.js";
import {
  COUNT_LIMIT,
  NOTIFY_CHANNEL,
  countObjects,
  deleteObject,
  insertObject,
  selectHead,
  selectLatestPage,
  selectObject,
  selectObjects,
  selectPageAt,
  updateObject,
} from "./queries.js";
import { QueryLoad, run } from "./run.js";
import { ConnectionCircuit } from "./circuit.js";
import type { PoolStats, PoolStatsSource } from "../instrumented.js";
import { newFanout } from "./watch.js";
import type { FanoutSettings } from "./watch.js";

export type { PostgresOptions, SslMode, StorageLog } from "./options.js";
export { defaultPostgresOptions } from "./options.js";
export { migrate } from "./migrate.js";

/** Options that only tests and tuning touch. */
export interface PostgresTuning extends FanoutSettings {
  /** How long a missing changelog id may stay missing before it is claimed as a gap (default 25 ms). */
  gapWaitMs?: number;
}

/** The Storage, plus what operators' tooling and tests may call. */
export interface PostgresStorage extends Storage, PoolStatsSource {
  /** Prunes the changelog now: everything older than `olderThanSeconds` (default: the window). */
  compact(olderThanSeconds?: number): Promise<void>;
}

const POLL_BATCH = 1000;
/** The most GETs one statement answers. */
const READ_BATCH = 128;

interface WantedObject {
  resource: StorageResource;
  key: ObjectKey;
}

/**
 * Connects, migrates (unless skipMigrations), starts the changelog poller and LISTEN, and returns the
 * store. A wrong host, database or password fails here with one sentence naming the problem.
 */
export async function createPostgresStorage(
  options: PostgresOptions & PostgresTuning,
  log: StorageLog = silentLog,
): Promise<PostgresStorage> {
  const opts = { ...defaultPostgresOptions, ...options };
  const sql = openPool(opts);
  try {
    await probe(sql, (opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS) + opts.queryTimeoutMs);
  } catch (err) {
    await sql.end({ timeout: 0 }).catch(() => {});
    throw new Error(describeConnectError(err, opts), { cause: err });
  }
  try {
    if (opts.skipMigrations) await checkSchema(sql);
    else await migrate(sql, log);
  } catch (err) {
    await sql.end({ timeout: 0 }).catch(() => {});
    throw err;
  }
  const store = new PgStorage(sql, opts, log);
  try {
    await store.start();
  } catch (err) {
    // stops the poller it may have started, then the pool
    await store.close().catch(() => {});
    throw err;
  }
  return store;
}

class PgStorage implements PostgresStorage {
  private readonly db: Db;
  private readonly poller: ChangelogPoller;
  private fanout: WatchFanout;
  private pruneTimer: ReturnType<typeof setInterval> | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  private closed = false;
  /** Concurrent GETs (and the reads before updates) share one statement per resource (read-batch.ts). */
  private readonly reads = new ReadBatcher<WantedObject, StoredRow>(
    (wanted) => this.selectEach(wanted),
    (w) => `${resourceColumn(w.resource)}\0${keyColumn(w.key)}`,
    READ_BATCH,
  );

  constructor(
    private readonly sql: Sql,
    private readonly opts: PostgresOptions & PostgresTuning,
    private readonly log: StorageLog,
  ) {
    this.db = {
      sql,
      cluster: opts.clusterName,
      timeoutMs: opts.queryTimeoutMs,
      statementTimeoutMs: opts.queryTimeoutMs,
      // Refuse queries for 1 s after a connection failure; then one probe at a time, each given as
      // long as connecting may take.
      circuit: new ConnectionCircuit({
        openMs: 1_000,
        probeMs: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      }),
      load: new QueryLoad(),
    };
    this.poller = new ChangelogPoller(this.db, {
      pollIntervalMs: opts.pollIntervalMs,
      gapWaitMs: opts.gapWaitMs ?? 25,
      batchSize: POLL_BATCH,
      log,
      deliver: (changes, resolved) => {
        for (const change of changes) this.fanout.publish(change);
        this.fanout.progress(resolved);
      },
      watched: (resourceColumn) => this.fanout.watches(resourceColumn),
      watchedResources: () => this.fanout.watchedResources(),
      needsPrevious: (resourceColumn) => this.fanout.needsPrevious(resourceColumn),
      resourcesNeedingPrevious: () => this.fanout.resourcesNeedingPrevious(),
      lostHistory: () => {
        // Watchers may have missed pruned changes: end them; they resume from their last resource
        // version, get Compacted and relist.
        const old = this.fanout;
        this.fanout = this.makeFanout();
        old.close();
      },
    });
    this.fanout = this.makeFanout();
  }

  private makeFanout(): WatchFanout {
    return newFanout(this.db, () => this.poller.resolved, this.opts);
  }

  async start(): Promise<void> {
    const { head, compacted } = await selectHead(this.db);
    // Start a little behind the head so that a transaction that took an id just before it and
    // commits now is still seen in order; the catch-up only resolves ids, nobody watches yet.
    const start = Math.max(compacted, head - 1000);
    this.poller.start(start);
    await this.poller.waitFor(head, Math.max(this.opts.queryTimeoutMs, 10_000));
    const listening = await this.sql.listen(NOTIFY_CHANNEL, () => this.poller.nudge());
    this.unlisten = () => listening.unlisten();
    const pruneEvery =
      this.opts.pruneIntervalMs ?? Math.max(1000, (this.opts.historyWindowSeconds * 1000) / 4);
    this.pruneTimer = setInterval(() => void this.prune(this.opts.historyWindowSeconds), pruneEvery);
    this.pruneTimer.unref();
  }

  private async prune(windowSeconds: number): Promise<void> {
    try {
      const cut = await pruneChangelog(this.db, windowSeconds, this.poller.resolved);
      if (cut !== undefined) this.log.info({ compacted: cut }, "pruned the changelog");
    } catch (err) {
      this.log.warn({ err: String(err) }, "pruning the changelog failed; will retry");
    }
  }

  async compact(olderThanSeconds = this.opts.historyWindowSeconds): Promise<void> {
    const { head } = await selectHead(this.db);
    await this.poller.waitFor(head, this.opts.queryTimeoutMs);
    await pruneChangelog(this.db, olderThanSeconds, this.poller.resolved);
  }

  async get(resource: StorageResource, key: ObjectKey): Promise<KubeObject> {
    const row = await this.reads.load({ resource, key });
    if (!row) throw notFound(resource, key);
    return decodeObject(row.data.toString(), row.rv);
  }

  async getEncoded(resource: StorageResource, key: ObjectKey): Promise<Buffer> {
    const row = await this.reads.load({ resource, key });
    if (!row) throw notFound(resource, key);
    return joinBytes(withResourceVersionBytes(row.data, row.rv));
  }

  /** One statement per resource for the reads batched together, all at once. */
  private async selectEach(wanted: WantedObject[]): Promise<(StoredRow | undefined)[]> {
    if (wanted.length === 1) return [await selectObject(this.db, wanted[0].resource, wanted[0].key)];
    const byResource = new Map<string, number[]>();
    wanted.forEach((w, i) => {
      const column = resourceColumn(w.resource);
      const at = byResource.get(column);
      if (at) at.push(i);
      else byResource.set(column, [i]);
    });
    const out = new Array<StoredRow | undefined>(wanted.length);
    await Promise.all(
      [...byResource.values()].map(async (at) => {
        const rows = await selectObjects(
          this.db,
          wanted[at[0]].resource,
          at.map((i) => wanted[i].key),
        );
        at.forEach((i, j) => (out[i] = rows[j]));
      }),
    );
    return out;
  }

  async create(resource: StorageResource, key: ObjectKey, object: KubeObject): Promise<KubeObject> {
    try {
      const row = await retryClaimedId(() => insertObject(this.db, resource, key, object));
      if (!row) throw exists(resource, key);
      this.poller.nudge();
      return writtenObject(object, row.data, row.rv);
    } catch (err) {
      if (isUniqueViolation(err, "report_objects_pkey")) throw exists(resource, key);
      throw err;
    }
  }

  async update(
    resource: StorageResource,
    key: ObjectKey,
    object: KubeObject,
    expectedResourceVersion: number,
  ): Promise<KubeObject> {
    const out = await retryClaimedId(() =>
      updateObject(this.db, resource, key, object, expectedResourceVersion),
    );
    if (!out.done) throw await this.missedWrite(resource, key, expectedResourceVersion);
    this.poller.nudge();
    return writtenObject(object, out.data, out.rv);
  }

  async delete(
    resource: StorageResource,
    key: ObjectKey,
    expectedResourceVersion?: number,
  ): Promise<KubeObject> {
    const out = await retryClaimedId(() => deleteObject(this.db, resource, key, expectedResourceVersion));
    if (!out.done) throw await this.missedWrite(resource, key, expectedResourceVersion);
    this.poller.nudge();
    return decodeObject(out.data, out.rv);
  }

  /**
   * Why a conditional write did nothing, from a read after it (the write's statement does not say:
   * see WriteOutcome): the key is absent, or holds another version.
   */
  private async missedWrite(
    resource: StorageResource,
    key: ObjectKey,
    expected: number | undefined,
  ): Promise<StorageError> {
    const current = (await selectObject(this.db, resource, key))?.rv;
    return missedWrite(resource, key, current, expected);
  }

  async list(resource: StorageResource, options: ListOptions): Promise<ListResult> {
    const limit = options.limit && options.limit > 0 ? options.limit : undefined;
    const q: PageQuery = {
      namespace: options.namespace || undefined,
      labelSelector: options.labelSelector,
      fieldSelector: options.fieldSelector,
      after: options.continueFrom?.after,
      limit: limit === undefined ? undefined : limit + 1,
      // as kube-apiserver: a remaining count only when it is a plain range count
      countRemaining:
        limit !== undefined && options.labelSelector.length === 0 && options.fieldSelector.length === 0,
    };
    const c = options.consistency;
    const at = options.continueFrom?.resourceVersion ?? (c.kind === "exact" ? c.resourceVersion : undefined);
    let page: PageRows;
    let rv: number;
    if (at !== undefined) {
      const resolved = this.poller.resolved;
      if (at > resolved) {
        // A version this replica has not settled yet (the first page's head, a version from
        // another replica, the head an expired continue token's "-1" goes on from): a transaction
        // holding a lower id may still commit, and the state at `at` includes it. Wait those ids
        // out first, as a latest read does (a cheap statement when every id is there).
        await settleIds(this.db, resolved, at);
      }
      page = await selectPageAt(this.db, resource, q, at);
      if (at < page.compacted) {
        throw new StorageError(
          "Compacted",
          `resource version ${at} is older than the oldest kept (${page.compacted + 1})`,
          page.compacted + 1,
        );
      }
      if (at > page.head) throw tooLarge(at, page.head);
      rv = at;
    } else {
      const resolved = this.poller.resolved;
      page = await selectLatestPage(this.db, resource, q, resolved);
      if (c.kind === "notOlderThan" && c.resourceVersion > page.head)
        throw tooLarge(c.resourceVersion, page.head);
      rv = page.head;
      if (page.head > resolved && page.above !== page.head - resolved) {
        // A transaction holding a lower id may still commit: a list at the head would miss it and
        // a watch from the head would skip it. Wait until every id up to the head is settled (the
        // claim waits for open transactions), then read the state exactly as of the head.
        await settleIds(this.db, resolved, page.head);
        page = await selectPageAt(this.db, resource, q, rv);
      }
    }
    const more = limit !== undefined && page.rows.length > limit;
    const rows = more ? page.rows.slice(0, limit) : page.rows;
    const result: ListResult = options.encoded
      ? { items: [], encoded: rows.map((r) => withResourceVersionBytes(r.data, r.rv)), resourceVersion: rv }
      : { items: rows.map((r) => decodeObject(r.data.toString(), r.rv)), resourceVersion: rv };
    if (more && rows.length > 0) {
      result.continueAfter = keyFromColumn(rows[rows.length - 1].key, resource.namespaced);
      if (page.total !== undefined && page.total <= COUNT_LIMIT)
        result.remainingItemCount = Math.max(0, page.total - rows.length);
    }
    return result;
  }

  watch(resource: StorageResource, options: WatchOptions, signal: AbortSignal): AsyncIterable<WatchEvent> {
    return this.fanout.watch(resource, options, signal);
  }

  async currentResourceVersion(): Promise<number> {
    return (await selectHead(this.db)).head;
  }

  async ready(): Promise<void> {
    if (this.closed) throw new StorageError("Unavailable", "storage is closed");
    await run(this.sql`SELECT 1`, { ...this.db, timeoutMs: Math.min(2_000, this.opts.queryTimeoutMs) });
  }

  /**
   * Approximate: postgres.js does not expose its pool, so this counts queries in flight through
   * run(). It opens connections on demand and keeps them until idle for a minute, so the most
   * queries ever in flight at once (up to the pool size) stands in for the connections open.
   */
  poolStats(): PoolStats {
    const load = this.db.load ?? new QueryLoad();
    const max = this.opts.maxOpenConns;
    const size = Math.min(max, load.peak);
    const busy = Math.min(max, load.active);
    return { size, idle: Math.max(0, size - busy), waiting: Math.max(0, load.active - max) };
  }

  count(resource: StorageResource): Promise<number> {
    return countObjects(this.db, resource);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pruneTimer);
    this.fanout.close();
    await this.poller.stop();
    await this.unlisten?.().catch(() => {});
    await this.sql.end({ timeout: 5 });
  }
}

/** The first query, with the driver's own error (describeConnectError reads its code). */
async function probe(sql: Sql, timeoutMs: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error("no answer"), { code: "CONNECT_TIMEOUT" })),
      timeoutMs,
    );
  });
  try {
    await Promise.race([sql`SELECT 1`, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A poller may claim an id whose writer had drawn it but not yet inserted its changelog row (see
 * fillGap); that writer's statement then fails whole on the changelog key and is safely redone.
 */
async function retryClaimedId<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (attempt < 5 && isUniqueViolation(err, "report_changelog_pkey")) continue;
      throw err;
    }
  }
}

function describe(resource: StorageResource, key: ObjectKey): string {
  return `${resource.resource}.${resource.group} ${key.namespace ? `${key.namespace}/` : ""}${key.name}`;
}

function notFound(resource: StorageResource, key: ObjectKey): StorageError {
  return new StorageError("KeyNotFound", `${describe(resource, key)} not found`);
}

function exists(resource: StorageResource, key: ObjectKey): StorageError {
  return new StorageError("KeyExists", `${describe(resource, key)} already exists`);
}

function missedWrite(
  resource: StorageResource,
  key: ObjectKey,
  current: string | undefined,
  expected: number | undefined,
): StorageError {
  if (current === undefined) return notFound(resource, key);
  return new StorageError(
    "Conflict",
    `${describe(resource, key)}: stored resource version is ${current}, not ${expected}`,
  );
}

function tooLarge(requested: number, current: number): StorageError {
  return new StorageError(
    "TooLargeResourceVersion",
    `Too large resource version: ${requested}, current: ${current}`,
    current,
  );
}
