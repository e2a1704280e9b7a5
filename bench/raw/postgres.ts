import postgres from "postgres";
import { migrate } from "../../src/storage/postgres/migrate.js";
import { silentLog } from "../../src/storage/postgres/options.js";
import { startPostgres } from "../../test/support/postgres.js";
import type { KindInfo, Obj } from "../fixtures.js";
import type { Subject } from "../subject.js";
import type { Fetched, ListQuery, Listed, Target, WatchHandle, WatchOptions, Written } from "../target.js";
import { nameOf, namespaceOf, randomSuffix } from "../target.js";

/**
 * The PostgreSQL baseline: the same driver (postgres.js, a pool as large as the server's default
 * --db-max-open-conns), the server's own schema (its migrations), and for each operation the plain
 * SQL a store of reports needs: INSERT of the JSON and the key columns, SELECT by key, a conditional
 * UPDATE on the resource version, DELETE, and the paged or label-selected query (`ORDER BY key LIMIT`,
 * `labels @> …` on the GIN index). Every write NOTIFYs, as the server's do. What it does not do is
 * the server's changelog row per write (its watch history): that cost is part of the server's figure.
 * Like the server's, its statements on one object name the namespace too (see queries.ts keyParams).
 */

const CLUSTER = "bench";
const CHANNEL = "bench_raw_changes";
const POOL = 20;

const resourceOf = (kind: KindInfo) => `${kind.group}/${kind.plural}`;
const keyOf = (namespace: string, name: string) => (namespace ? `${namespace}/${name}` : name);

interface Subscriber {
  resources: Set<string>;
  onEvent(text: string): void;
}

function encode(obj: Obj): { data: string; labels: string } {
  const { resourceVersion: _rv, ...metadata } = obj.metadata;
  return { data: JSON.stringify({ ...obj, metadata }), labels: JSON.stringify(metadata.labels ?? {}) };
}

function decode(row: { rv: string; data: string }): Obj {
  const obj = JSON.parse(row.data) as Obj;
  obj.metadata.resourceVersion = row.rv;
  return obj;
}

class PostgresTarget implements Target {
  readonly name = "postgres.js + SQL";
  private readonly subscribers = new Set<Subscriber>();
  private listening: Promise<unknown> | undefined;

  constructor(private readonly sql: postgres.Sql) {}

  async create(kind: KindInfo, obj: Obj): Promise<Written> {
    const name = nameOf(obj) || `${String(obj.metadata.generateName ?? "")}${randomSuffix()}`;
    const namespace = namespaceOf(obj);
    const { data, labels } = encode({ ...obj, metadata: { ...obj.metadata, name } });
    const resource = resourceOf(kind);
    const key = keyOf(namespace, name);
    const rows = await this.sql<{ rv: string }[]>`
      WITH o AS (
        INSERT INTO report_objects (cluster, resource, key, namespace, name, labels, rv, data)
        VALUES (${CLUSTER}, ${resource}, ${key}, ${namespace}, ${name}, ${labels}::text::jsonb,
                nextval('report_rv_seq'), ${data})
        RETURNING rv
      )
      SELECT rv::text AS rv, pg_notify(${CHANNEL}, ${`${resource} ${key}`}) FROM o`;
    return { name, resourceVersion: rows[0].rv };
  }

  async get(kind: KindInfo, namespace: string, name: string): Promise<Fetched | undefined> {
    const rows = await this.sql<{ rv: string; data: string }[]>`
      SELECT rv::text AS rv, data FROM report_objects
      WHERE cluster = ${CLUSTER} AND resource = ${resourceOf(kind)} AND namespace = ${namespace}
        AND key = ${keyOf(namespace, name)}`;
    const row = rows[0];
    return row && { resourceVersion: row.rv, object: () => decode(row) };
  }

  async update(kind: KindInfo, obj: Obj): Promise<Written> {
    const { data, labels } = encode(obj);
    const resource = resourceOf(kind);
    const key = keyOf(namespaceOf(obj), nameOf(obj));
    const expected = String(obj.metadata.resourceVersion ?? "0");
    const rows = await this.sql<{ rv: string }[]>`
      WITH o AS (
        UPDATE report_objects SET labels = ${labels}::text::jsonb, data = ${data}, rv = nextval('report_rv_seq')
        WHERE cluster = ${CLUSTER} AND resource = ${resource} AND namespace = ${namespaceOf(obj)} AND key = ${key}
          AND rv = ${expected}::bigint
        RETURNING rv
      )
      SELECT rv::text AS rv, pg_notify(${CHANNEL}, ${`${resource} ${key}`}) FROM o`;
    if (!rows[0]) throw new Error(`update ${key}: conflict or not found`);
    return { name: nameOf(obj), resourceVersion: rows[0].rv };
  }

  async remove(kind: KindInfo, namespace: string, name: string): Promise<void> {
    const resource = resourceOf(kind);
    const key = keyOf(namespace, name);
    const rows = await this.sql`
      WITH o AS (
        DELETE FROM report_objects
        WHERE cluster = ${CLUSTER} AND resource = ${resource} AND namespace = ${namespace} AND key = ${key}
        RETURNING rv
      )
      SELECT pg_notify(${CHANNEL}, ${`${resource} ${key}`}) FROM o`;
    if (rows.length === 0) throw new Error(`delete ${key}: not found`);
  }

  async list(kind: KindInfo, query: ListQuery): Promise<Listed> {
    const params: (string | number)[] = [CLUSTER, resourceOf(kind)];
    const where = ["cluster = $1", "resource = $2"];
    if (query.namespace !== undefined) {
      params.push(query.namespace);
      where.push(`namespace = $${params.length}`);
    }
    if (query.labels) {
      params.push(JSON.stringify(query.labels));
      where.push(`labels @> $${params.length}::text::jsonb`);
    }
    const limit = query.limit ? ` LIMIT ${Math.floor(query.limit)}` : "";
    const text = `SELECT rv::text AS rv, data FROM report_objects WHERE ${where.join(" AND ")} ORDER BY key${limit}`;
    const rows = await this.sql.unsafe<{ rv: string; data: string }[]>(text, params, { prepare: true });
    return { items: () => rows.map(decode) };
  }

  async watch(kinds: KindInfo[], options: WatchOptions): Promise<WatchHandle> {
    // One LISTEN for every watcher; a change is read once and handed to each subscriber of its kind.
    this.listening ??= this.sql.listen(CHANNEL, (payload) => void this.deliver(payload));
    await this.listening;
    const sub: Subscriber = { resources: new Set(kinds.map(resourceOf)), onEvent: options.onEvent };
    this.subscribers.add(sub);
    return { close: () => this.subscribers.delete(sub) };
  }

  private async deliver(payload: string): Promise<void> {
    const space = payload.indexOf(" ");
    const resource = payload.slice(0, space);
    const wanted = [...this.subscribers].filter((s) => s.resources.has(resource));
    if (wanted.length === 0) return;
    const key = payload.slice(space + 1);
    const namespace = key.includes("/") ? key.slice(0, key.indexOf("/")) : "";
    const rows = await this.sql<{ data: string }[]>`
      SELECT data FROM report_objects
      WHERE cluster = ${CLUSTER} AND resource = ${resource} AND namespace = ${namespace} AND key = ${key}`;
    const text = rows[0] ? `{"type":"MODIFIED","object":${rows[0].data}}` : `{"type":"DELETED"}`;
    for (const s of wanted) s.onEvent(text);
  }

  async close(): Promise<void> {
    await this.sql.end({ timeout: 5 });
  }
}

export async function startRawPostgres(): Promise<Subject> {
  const pg = await startPostgres();
  try {
    const sql = postgres({
      host: pg.host,
      port: pg.port,
      user: pg.user,
      password: pg.password,
      database: pg.database,
      max: POOL,
      onnotice: () => {},
    });
    await migrate(sql, silentLog);
    return {
      target: new PostgresTarget(sql),
      storePids: () => pg.pids(),
      settle: async () => void (await sql`VACUUM ANALYZE`),
      stop: () => pg.stop(),
    };
  } catch (err) {
    await pg.stop();
    throw err;
  }
}
