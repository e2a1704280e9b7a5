import type { RawChange } from "../interface.js";
import { arrayLiteral, decodeObject, resourceColumn, resourceFromColumn } from "./codec.js";
import type { Db } from "./queries.js";
import type { StorageResource } from "../interface.js";
import { run } from "./run.js";

/**
 * The changelog's statements: what the poller reads, the gap fill, the history a new watcher
 * replays, and pruning. One changelog id sequence serves every cluster in the database, so the
 * poller reads ids of other clusters too (without their data) to see that the sequence is whole.
 */

export interface ChangelogRow {
  id: string;
  kind: string;
  mine: boolean;
  resource: string;
  namespace: string;
  name: string;
  data: string | null;
  prev_data: string | null;
  prev_rv: string | null;
}

/** Turns one row of this cluster into the change watchers filter; undefined for gap fills. */
export function rowToChange(row: ChangelogRow): RawChange | undefined {
  if (!row.mine || row.data === null) return undefined;
  const resource = resourceFromColumn(row.resource, row.namespace);
  const resourceVersion = Number(row.id);
  const object = decodeObject(row.data, row.id);
  switch (row.kind) {
    case "A":
      return { type: "ADDED", resource, object, resourceVersion };
    case "M":
      return {
        type: "MODIFIED",
        resource,
        object,
        prevObject: row.prev_data === null ? undefined : decodeObject(row.prev_data, row.prev_rv ?? "0"),
        resourceVersion,
      };
    case "D":
      return { type: "DELETED", resource, object, resourceVersion };
    default:
      return undefined;
  }
}

/**
 * Changelog rows after `after` (all clusters), and the compaction point. Objects come only for this
 * cluster's rows of the `watched` resources, and an update's previous object only for those of
 * `withPrevious` (watched with a label selector): nobody else needs them, and reading both objects
 * of every write was most of what a write cost the poller (the poller fills in rows whose resource
 * gained such a watcher while this was read).
 *
 * The values that vary between calls sit behind scalar subqueries (`id > (SELECT $1)`), out of the
 * planner's sight. Seen, they made each execution's own plan look cheaper than the cached one
 * (`id > $1` might select nothing, `= ANY($2)` might test a short array), so PostgreSQL planned the
 * statement on every call, and planning cost more of its CPU than running the statement did. Filled
 * in by the executor, they give the same estimates every time, the plan is made once per
 * connection, and the index still serves the condition. (A plan made before a new database's first
 * ANALYZE may read the changelog whole; it is small then, and autovacuum's ANALYZE, within a minute
 * of the first writes, makes every connection plan again.)
 */
export async function selectChangesAfter(
  db: Db,
  after: number,
  batchSize: number,
  watched: string[],
  withPrevious: string[],
): Promise<{ compacted: number; rows: ChangelogRow[] }> {
  const result = await run(
    db.sql<(Partial<ChangelogRow> & { compacted: string })[]>`
      SELECT x.revision::text AS compacted, l.* FROM report_compaction x
      LEFT JOIN LATERAL (
        SELECT c.id::text AS id, c.kind::text AS kind, c.mine, c.resource, c.namespace, c.name,
               CASE WHEN c.wanted THEN c.data END AS data,
               CASE WHEN c.wanted AND c.resource = ANY((SELECT ${arrayLiteral(withPrevious)}::text[])::text[]) THEN c.prev_data END
                 AS prev_data, c.prev_rv::text AS prev_rv
        FROM (
          SELECT *, cluster = ${db.cluster} AS mine,
                 cluster = ${db.cluster} AND resource = ANY((SELECT ${arrayLiteral(watched)}::text[])::text[]) AS wanted
          FROM report_changelog WHERE id > (SELECT ${String(after)}::bigint)
          ORDER BY id LIMIT ${db.sql.unsafe(String(Math.floor(batchSize)))}
        ) c
      ) l ON true
      ORDER BY l.id::bigint`,
    db,
  );
  const compacted = Number(result[0]?.compacted ?? 0);
  const rows = result.filter((r): r is ChangelogRow & { compacted: string } => r.id != null);
  return { compacted, rows };
}

/** The objects of changelog rows read without them (selectChangesAfter), by id. */
export async function selectChangeData(
  db: Db,
  ids: string[],
): Promise<Map<string, { data: string | null; prev_data: string | null }>> {
  const rows = await run(
    db.sql<{ id: string; data: string | null; prev_data: string | null }[]>`
      SELECT c.id::text AS id, c.data, c.prev_data
      FROM report_changelog c
      WHERE c.id = ANY(${arrayLiteral(ids)}::bigint[]) AND c.cluster = ${db.cluster}`,
    db,
  );
  return new Map(rows.map((r) => [r.id, { data: r.data, prev_data: r.prev_data }]));
}

/**
 * Claims ids [from, to] that no visible row holds. For an id whose transaction is still open, the
 * insert waits on the primary key until it ends: if it committed, nothing is inserted and the poller
 * reads the real row next time; if it rolled back (or has not inserted yet, and will then fail and
 * retry with a new id), the gap row is inserted and the hole is closed for good. So no committed
 * change is ever skipped, which kine's time-based skip can not promise.
 */
export async function fillGap(db: Db, from: number, to: number): Promise<void> {
  await run(
    db.sql`
      INSERT INTO report_changelog (id, cluster, resource, namespace, name, kind)
      SELECT g, '', '', '', '', 'G' FROM generate_series(${String(from)}::bigint, ${String(to)}::bigint) g
      ON CONFLICT (id) DO NOTHING`,
    db,
  );
}

/**
 * Makes every id in (after, upTo] settled: claims those no visible row holds, which waits out any
 * transaction still holding one (see fillGap). Afterwards a read sees every change up to `upTo`.
 */
export async function settleIds(db: Db, after: number, upTo: number): Promise<void> {
  // never past the ids drawn so far: an id no writer holds yet is not to be claimed (a caller may
  // ask for a version the store has not reached; it then learns so from its read)
  await run(
    db.sql`
      INSERT INTO report_changelog (id, cluster, resource, namespace, name, kind)
      SELECT g, '', '', '', '', 'G'
      FROM generate_series(
        ${String(after + 1)}::bigint,
        least(${String(upTo)}::bigint, (SELECT last_value FROM report_rv_seq))) g
      WHERE NOT EXISTS (SELECT 1 FROM report_changelog WHERE id = g)
      ON CONFLICT (id) DO NOTHING`,
    db,
  );
}

/** One page of a resource's changes in (after, upTo], with the compaction point of the same snapshot. */
export async function selectHistoryPage(
  db: Db,
  resource: StorageResource,
  after: number,
  upTo: number,
  batchSize: number,
): Promise<{ compacted: number; rows: ChangelogRow[] }> {
  const result = await run(
    db.sql<(Partial<ChangelogRow> & { compacted: string })[]>`
      SELECT c.revision::text AS compacted, l.* FROM report_compaction c
      LEFT JOIN LATERAL (
        SELECT id::text AS id, kind::text AS kind, true AS mine, resource, namespace, name, data, prev_data,
               prev_rv::text AS prev_rv
        FROM report_changelog
        WHERE cluster = ${db.cluster} AND resource = ${resourceColumn(resource)}
          AND id > ${String(after)}::bigint AND id <= ${String(upTo)}::bigint
        ORDER BY report_changelog.id LIMIT ${batchSize}
      ) l ON true
      ORDER BY l.id::bigint`,
    db,
  );
  const compacted = Number(result[0]?.compacted ?? 0);
  const rows = result.filter((r): r is ChangelogRow & { compacted: string } => r.id != null);
  return { compacted, rows };
}

/** Any constant works; it only has to be the same for every replica. */
const PRUNE_LOCK = 0x7265706f727474n.toString();

/** Rows one prune transaction removes at most, so that a long backlog never hits the statement timeout. */
const PRUNE_BATCH = 20_000;

/**
 * Forgets changes older than the window (never beyond `upTo`, the point every id below which is
 * resolved), moving the compaction point in the same transaction as the delete. One replica prunes
 * at a time; the others skip. Works in batches until nothing old is left; returns the new compaction
 * point, or undefined if nothing was pruned.
 */
export async function pruneChangelog(
  db: Db,
  windowSeconds: number,
  upTo: number,
): Promise<number | undefined> {
  let pruned: number | undefined;
  while (true) {
    const cut = await pruneBatch(db, windowSeconds, upTo);
    if (cut === undefined) return pruned;
    pruned = cut.id;
    if (!cut.more) return pruned;
  }
}

async function pruneBatch(
  db: Db,
  windowSeconds: number,
  upTo: number,
): Promise<{ id: number; more: boolean } | undefined> {
  return db.sql.begin(async (tx) => {
    await tx`SELECT set_config('statement_timeout', ${String(db.timeoutMs)}, true)`;
    const [lock] = await tx<
      { locked: boolean }[]
    >`SELECT pg_try_advisory_xact_lock(${PRUNE_LOCK}::bigint) AS locked`;
    if (!lock?.locked) return undefined;
    // Oldest first along the primary key: ids grow with time, so the old rows are a prefix.
    const [cut] = await tx<{ id: string | null; n: string }[]>`
      SELECT max(id)::text AS id, count(*)::text AS n FROM (
        SELECT id FROM report_changelog
        WHERE id <= ${String(upTo)}::bigint AND created_at < now() - make_interval(secs => ${windowSeconds})
        ORDER BY id LIMIT ${PRUNE_BATCH}
      ) old`;
    if (!cut?.id) return undefined;
    await tx`UPDATE report_compaction SET revision = greatest(revision, ${cut.id}::bigint)`;
    await tx`DELETE FROM report_changelog WHERE id <= ${cut.id}::bigint`;
    return { id: Number(cut.id), more: Number(cut.n) === PRUNE_BATCH };
  });
}
