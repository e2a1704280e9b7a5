import type { Sql } from "postgres";
import type { ObjectKey, StorageResource } from "../interface.js";
import type { FieldSelector, LabelSelector } from "../../apimachinery/selector-ast.js";
import type { KubeObject } from "../../apimachinery/types.js";
import { arrayLiteral, encodeLabels, encodeObject, keyColumn, resourceColumn } from "./codec.js";
import { ParamList, fieldSelectorSql, labelSelectorSql } from "./selectors-sql.js";
import type { SqlParam } from "./selectors-sql.js";
import { run } from "./run.js";
import type { QueryLimits } from "./run.js";

/**
 * Every statement the backend sends for objects, each one round trip. A write is a single statement
 * (row, changelog entry and NOTIFY together), so it either happens whole or not at all, and the
 * resource version is the changelog id drawn from one sequence shared by every replica.
 */

export interface Db extends QueryLimits {
  sql: Sql;
  cluster: string;
}

export const NOTIFY_CHANNEL = "report_changes";

interface KeyParams {
  cluster: string;
  resource: string;
  key: string;
  namespace: string;
  name: string;
}

/**
 * Every statement on one object names its namespace as well as its key. postgres.js prepares each
 * statement once per connection, and PostgreSQL may keep a generic plan made while the table was
 * nearly empty, before its first ANALYZE; such a plan can pick the namespace index, whose columns
 * after namespace are then only a filter on every entry of the resource (about a millisecond of
 * the database's CPU per GET at 10,000 reports, growing with N, until autovacuum analyzes the
 * table). With the namespace named, either index finds the row at once.
 */
function keyParams(db: Db, resource: StorageResource, key: ObjectKey): KeyParams {
  return {
    cluster: db.cluster,
    resource: resourceColumn(resource),
    key: keyColumn(key),
    namespace: key.namespace,
    name: key.name,
  };
}

/** One stored object: its resource version, and its JSON as the bytes the database sent (PageRow). */
export interface StoredRow {
  rv: string;
  data: Buffer;
}

export async function selectObject(
  db: Db,
  resource: StorageResource,
  key: ObjectKey,
): Promise<StoredRow | undefined> {
  const k = keyParams(db, resource, key);
  const rows = await run(
    db.sql`
      SELECT rv::text AS rv, data FROM report_objects
      WHERE cluster = ${k.cluster} AND resource = ${k.resource} AND namespace = ${k.namespace} AND key = ${k.key}`.raw(),
    db,
  );
  const [rv, data] = rows[0] ?? [];
  return rv && data ? { rv: rv.toString("latin1"), data } : undefined;
}

/**
 * Several objects of one resource in one statement (the read batch's, read-batch.ts), in the order
 * of `keys`. Each wanted row is looked up on its own, by namespace and key as selectObject is
 * (keyParams): OFFSET 0 keeps PostgreSQL from turning the lookups into one join, which a plan made
 * on a nearly empty table does as a scan of every index entry of the resource. The arrays sit behind
 * subqueries so that the plan is made once per connection, not per batch (see selectChangesAfter).
 */
export async function selectObjects(
  db: Db,
  resource: StorageResource,
  keys: ObjectKey[],
): Promise<(StoredRow | undefined)[]> {
  const names = keys.map(keyColumn);
  const namespaces = keys.map((k) => k.namespace);
  const rows = await run(
    db.sql`
      SELECT o.key, o.rv::text AS rv, o.data
      FROM unnest((SELECT ${arrayLiteral(namespaces)}::text[]), (SELECT ${arrayLiteral(names)}::text[]))
           AS w(namespace, key)
      CROSS JOIN LATERAL (
        SELECT key, rv, data FROM report_objects
        WHERE cluster = ${db.cluster} AND resource = ${resourceColumn(resource)}
          AND namespace = w.namespace AND key = w.key
        OFFSET 0
      ) o`.raw(),
    db,
  );
  const byKey = new Map<string, StoredRow>();
  for (const [key, rv, data] of rows) byKey.set(key.toString(), { rv: rv.toString("latin1"), data });
  return names.map((n) => byKey.get(n));
}

/** Returns the new resource version, or undefined when the key is taken. */
export async function insertObject(
  db: Db,
  resource: StorageResource,
  key: ObjectKey,
  object: KubeObject,
): Promise<{ rv: string; data: string } | undefined> {
  const k = keyParams(db, resource, key);
  const data = encodeObject(object);
  // NOT EXISTS spares a sequence value (and so a gap for pollers to wait out) on the common
  // "already exists" path; a racing create still fails on the primary key.
  const rows = await run(
    db.sql<{ rv: string }[]>`
      WITH obj AS (
        INSERT INTO report_objects (cluster, resource, key, namespace, name, labels, rv, data)
        SELECT ${k.cluster}::text, ${k.resource}::text, ${k.key}::text, ${k.namespace}::text, ${k.name}::text,
               ${encodeLabels(object)}::text::jsonb, nextval('report_rv_seq'), ${data}::text
        WHERE NOT EXISTS (
          SELECT 1 FROM report_objects
          WHERE cluster = ${k.cluster} AND resource = ${k.resource} AND namespace = ${k.namespace} AND key = ${k.key})
        RETURNING rv, data
      ), log AS (
        INSERT INTO report_changelog (id, cluster, resource, namespace, name, kind, data)
        SELECT rv, ${k.cluster}::text, ${k.resource}::text, ${k.namespace}::text, ${k.name}::text, 'A', data
        FROM obj
        RETURNING id
      )
      SELECT id::text AS rv, pg_notify(${NOTIFY_CHANNEL}, '') FROM log`,
    db,
  );
  return rows[0] ? { rv: rows[0].rv, data } : undefined;
}

/**
 * A conditional write's result. When nothing was written the statement says nothing more: asking it
 * for the stored version too cost every write a second lookup of the row, for the few that fail
 * (the caller reads the version then).
 */
export type WriteOutcome = { done: true; rv: string; data: string } | { done: false };

export async function updateObject(
  db: Db,
  resource: StorageResource,
  key: ObjectKey,
  object: KubeObject,
  expected: number,
): Promise<WriteOutcome> {
  const k = keyParams(db, resource, key);
  const data = encodeObject(object);
  const exp = String(expected);
  // The self-join reads the row version being replaced (rv = expected identifies it), so the
  // changelog records the previous object without a second round trip or an explicit lock.
  const rows = await run(
    db.sql<{ rv: string }[]>`
      WITH obj AS (
        UPDATE report_objects o
        SET labels = ${encodeLabels(object)}::text::jsonb, data = ${data}::text, rv = nextval('report_rv_seq')
        FROM report_objects p
        WHERE o.cluster = ${k.cluster} AND o.resource = ${k.resource} AND o.namespace = ${k.namespace} AND o.key = ${k.key}
          AND o.rv = ${exp}::bigint
          AND p.cluster = ${k.cluster} AND p.resource = ${k.resource} AND p.namespace = ${k.namespace} AND p.key = ${k.key}
          AND p.rv = ${exp}::bigint
        RETURNING o.rv, o.data, p.data AS prev_data
      ), log AS (
        INSERT INTO report_changelog (id, cluster, resource, namespace, name, kind, data, prev_data, prev_rv)
        SELECT rv, ${k.cluster}::text, ${k.resource}::text, ${k.namespace}::text, ${k.name}::text, 'M',
               data, prev_data, ${exp}::bigint
        FROM obj
        RETURNING id
      )
      SELECT id::text AS rv, pg_notify(${NOTIFY_CHANNEL}, '') FROM log`,
    db,
  );
  return rows[0] ? { done: true, rv: rows[0].rv, data } : { done: false };
}

export async function deleteObject(
  db: Db,
  resource: StorageResource,
  key: ObjectKey,
  expected: number | undefined,
): Promise<WriteOutcome> {
  const k = keyParams(db, resource, key);
  const exp = expected === undefined ? null : String(expected);
  const rows = await run(
    db.sql<{ rv: string; data: string }[]>`
      WITH obj AS (
        DELETE FROM report_objects
        WHERE cluster = ${k.cluster} AND resource = ${k.resource} AND namespace = ${k.namespace} AND key = ${k.key}
          AND (${exp}::bigint IS NULL OR rv = ${exp}::bigint)
        RETURNING rv, data
      ), log AS (
        INSERT INTO report_changelog (id, cluster, resource, namespace, name, kind, data, prev_rv)
        SELECT nextval('report_rv_seq'), ${k.cluster}::text, ${k.resource}::text, ${k.namespace}::text,
               ${k.name}::text, 'D', data, rv
        FROM obj
        RETURNING id, data
      )
      SELECT id::text AS rv, data, pg_notify(${NOTIFY_CHANNEL}, '') FROM log`,
    db,
  );
  return rows[0] ? { done: true, rv: rows[0].rv, data: rows[0].data } : { done: false };
}

export interface PageQuery {
  namespace?: string;
  labelSelector: LabelSelector;
  fieldSelector: FieldSelector;
  /** Only keys after this one (a continue position). */
  after?: ObjectKey;
  /** Rows to fetch; undefined = all. */
  limit?: number;
  /** Also count the objects after `after`, up to COUNT_LIMIT (only meaningful without selectors). */
  countRemaining?: boolean;
}

export interface PageRows {
  /** The newest changelog id visible to the statement. */
  head: number;
  /** Changes at or below this are pruned. */
  compacted: number;
  /** Changelog rows above the `resolvedUpTo` the caller passed (latest reads only). */
  above?: number;
  /**
   * With countRemaining: objects from the page's start on, as stored now; above COUNT_LIMIT it
   * only says "more than that".
   */
  total?: number;
  rows: PageRow[];
}

/**
 * One stored object of a page: its key column, resource version and JSON (without the version). The
 * JSON stays the bytes the database sent: a page answered as JSON writes them as they are
 * (withResourceVersionBytes), and only a page that is decoded turns them into text.
 */
export interface PageRow {
  key: string;
  rv: string;
  data: Buffer;
}

/** Where a page starts (namespace, continue key) and what it selects, as SQL conditions. */
function pageConditions(q: PageQuery, p: ParamList): { position: string[]; selection: string[] } {
  const position: string[] = [];
  if (q.namespace !== undefined) {
    // The namespace's slice of the key order as well: whichever index a cached plan picked (one
    // made while the table was nearly empty may pick either), the page is read from the slice.
    position.push(
      `namespace = ${p.add(q.namespace)}`,
      `key >= ${p.add(`${q.namespace}/`)}`,
      `key < ${p.add(`${q.namespace}0`)}`,
    );
  }
  if (q.after !== undefined) position.push(`key > ${p.add(keyColumn(q.after))}`);
  const selection = [...labelSelectorSql(q.labelSelector, p), ...fieldSelectorSql(q.fieldSelector, p)];
  return { position, selection };
}

/**
 * A page counts at most this many objects from where it starts. The count walks the key index (and
 * the rows themselves where updates left their pages not all-visible): uncapped, every page of a
 * list paid for the whole rest of the collection, 30–160 ms of the database's CPU per page at
 * 100,000 reports, so a list paged through in 500s cost quadratic time. Past the cap the page says
 * nothing about what follows (remainingItemCount is an estimate clients may not rely on, and is
 * left out whenever a server does not know it).
 */
export const COUNT_LIMIT = 10_000;

/** How many rows `from` yields, counting no further than one past COUNT_LIMIT. */
function cappedCount(from: string): string {
  return `(SELECT count(*) FROM (SELECT 1 FROM ${from} LIMIT ${COUNT_LIMIT + 1}) counted)`;
}

/** The remaining-items count (an index-only range count, as etcd counts a range), or NULL. */
function totalColumn(q: PageQuery, position: string[]): string {
  if (!q.countRemaining) return "NULL";
  const where = ["cluster = $1", "resource = $2", ...position].join(" AND ");
  return cappedCount(`report_objects WHERE ${where}`);
}

function limitClause(limit: number | undefined): string {
  return limit === undefined ? "" : `LIMIT ${Math.max(0, Math.floor(limit))}`;
}

const HEAD = `SELECT greatest(coalesce((SELECT max(id) FROM report_changelog), 0), c.revision) AS head,
  c.revision AS compacted`;

export interface Statement {
  text: string;
  params: SqlParam[];
}

/** The statement selectLatestPage sends (exported so a test can EXPLAIN exactly it). */
export function latestPageStatement(
  cluster: string,
  resource: string,
  q: PageQuery,
  resolvedUpTo: number,
): Statement {
  const p = new ParamList(3);
  const { position, selection } = pageConditions(q, p);
  const where = ["cluster = $1", "resource = $2", ...position, ...selection].join(" AND ");
  const text = `
    SELECT h.head::text AS head, h.compacted::text AS compacted, h.above::text AS above,
           h.total::text AS total, o.key, o.rv::text AS rv, o.data
    FROM (${HEAD}, (SELECT count(*) FROM report_changelog WHERE id > (SELECT $3::bigint)) AS above,
            ${totalColumn(q, position)} AS total
          FROM report_compaction c) h
    LEFT JOIN LATERAL (
      SELECT key, rv, data FROM report_objects WHERE ${where} ORDER BY key ${limitClause(q.limit)}
    ) o ON true
    ORDER BY o.key`;
  return { text, params: [cluster, resource, String(resolvedUpTo), ...p.values] };
}

/**
 * The newest state: one statement, so the page, the head and the compaction point share a snapshot.
 * `resolvedUpTo` is a changelog id below which every id is known to be committed or filled; the
 * caller compares `above` with `head - resolvedUpTo` to learn whether a transaction that took a
 * lower id may still commit (then the head is not yet a safe resource version for this page).
 * `resolvedUpTo` sits behind a subquery so that a page without selectors is planned once per
 * connection (see selectChangesAfter); a label-selected page is planned for its labels each time.
 */
export async function selectLatestPage(
  db: Db,
  resource: StorageResource,
  q: PageQuery,
  resolvedUpTo: number,
): Promise<PageRows> {
  const st = latestPageStatement(db.cluster, resourceColumn(resource), q, resolvedUpTo);
  return pageRows(await run(db.sql.unsafe(st.text, st.params, { prepare: true }).raw(), db));
}

/**
 * The state as of `$3` of rows changed since: each one's object before its first later change.
 * jsonb refuses the `\u0000` escape that JSON text (and a report's strings) may hold; only the
 * labels are read from it, which cannot hold one, so the escape is blanked there.
 */
const CHANGED_SINCE = `
  SELECT key, namespace, name,
         coalesce((replace(data, '\\u0000', '\\u0020')::jsonb) -> 'metadata' -> 'labels', '{}'::jsonb) AS labels,
         rv, data
  FROM (
    SELECT DISTINCT ON (namespace, name)
      (CASE WHEN namespace = '' THEN name ELSE namespace || '/' || name END) COLLATE "C" AS key,
      namespace, name, kind, prev_rv AS rv, CASE kind WHEN 'M' THEN prev_data ELSE data END AS data
    FROM report_changelog
    WHERE cluster = $1 AND resource = $2 AND id > $3::bigint AND kind <> 'G'
    ORDER BY namespace, name, id
  ) first_change
  WHERE kind IN ('M', 'D')`;

/**
 * The statement selectPageAt sends (exported so a test can EXPLAIN exactly it). Each half is ordered
 * and limited on its own, so the unchanged rows are read along the key index like a latest page.
 */
export function pageAtStatement(cluster: string, resource: string, q: PageQuery, at: number): Statement {
  const p = new ParamList(3);
  const { position, selection } = pageConditions(q, p);
  const and = (conds: string[]) => conds.map((c) => ` AND ${c}`).join("");
  const where = and([...position, ...selection]);
  const limit = limitClause(q.limit);
  const total = q.countRemaining
    ? `${cappedCount(`report_objects WHERE cluster = $1 AND resource = $2 AND rv <= $3::bigint${and(position)}`)}
       + ${cappedCount(`(${CHANGED_SINCE}) c WHERE true${and(position)}`)}`
    : "NULL";
  const text = `
    SELECT h.head::text AS head, h.compacted::text AS compacted, NULL AS above, h.total::text AS total,
           s.key, s.rv::text AS rv, s.data
    FROM (${HEAD}, ${total} AS total FROM report_compaction c) h
    LEFT JOIN LATERAL (
      SELECT key, rv, data FROM (
        (SELECT key, rv, data FROM report_objects
         WHERE cluster = $1 AND resource = $2 AND rv <= $3::bigint${where}
         ORDER BY key ${limit})
        UNION ALL
        (SELECT key, rv, data FROM (${CHANGED_SINCE}) c WHERE true${where} ORDER BY key ${limit})
      ) state
      ORDER BY key ${limit}
    ) s ON true
    ORDER BY s.key`;
  return { text, params: [cluster, resource, String(at), ...p.values] };
}

/**
 * The state as of resource version `at`: rows not changed since, plus, for rows changed since, the
 * object before their first later change (from the changelog). Valid while `at` is not compacted.
 */
export async function selectPageAt(
  db: Db,
  resource: StorageResource,
  q: PageQuery,
  at: number,
): Promise<PageRows> {
  const st = pageAtStatement(db.cluster, resourceColumn(resource), q, at);
  return pageRows(await run(db.sql.unsafe(st.text, st.params, { prepare: true }).raw(), db));
}

/** Rows as postgres.js's raw() gives them: each column's bytes, and the columns' names. */
type RawRows = readonly (readonly (Buffer | null)[])[] & { columns: readonly { name: string }[] };

/** A page statement's rows, read as bytes (`raw()`): the columns are found by name. */
function pageRows(result: RawRows): PageRows {
  const column = (name: string) => result.columns.findIndex((c) => c.name === name);
  const [head, compacted, above, total, key, rv, data] = [
    "head",
    "compacted",
    "above",
    "total",
    "key",
    "rv",
    "data",
  ].map(column);
  const first = result[0];
  const number = (at: number) => {
    const v = first?.[at];
    return v == null ? undefined : Number(v.toString("latin1"));
  };
  const rows: PageRow[] = [];
  for (const r of result) {
    const k = r[key];
    const v = r[rv];
    const d = r[data];
    if (k != null && v != null && d != null)
      rows.push({ key: k.toString(), rv: v.toString("latin1"), data: d });
  }
  return {
    head: number(head) ?? 0,
    compacted: number(compacted) ?? 0,
    above: number(above),
    total: number(total),
    rows,
  };
}

export async function selectHead(db: Db): Promise<{ head: number; compacted: number }> {
  const rows = await run(
    db.sql<{ head: string; compacted: string }[]>`
      SELECT greatest(coalesce((SELECT max(id) FROM report_changelog), 0), c.revision)::text AS head,
             c.revision::text AS compacted
      FROM report_compaction c`,
    db,
  );
  return { head: Number(rows[0]?.head ?? 0), compacted: Number(rows[0]?.compacted ?? 0) };
}

export async function countObjects(db: Db, resource: StorageResource): Promise<number> {
  const rows = await run(
    db.sql<{ n: string }[]>`
      SELECT count(*)::text AS n FROM report_objects
      WHERE cluster = ${db.cluster} AND resource = ${resourceColumn(resource)}`,
    db,
  );
  return Number(rows[0]?.n ?? 0);
}
