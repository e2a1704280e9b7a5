import postgres from "postgres";
import type { Sql } from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeObject } from "../../src/apimachinery/types.js";
import type { StorageResource } from "../../src/storage/interface.js";
import { createPostgresStorage } from "../../src/storage/postgres/index.js";
import type { PostgresStorage } from "../../src/storage/postgres/index.js";
import { postgresStorageOptions, startPostgres } from "../support/postgres.js";
import type { PrivatePostgres } from "../support/postgres.js";

/**
 * postgres.js prepares every statement once per connection and PostgreSQL may keep one generic plan
 * for it, made with the statistics of the moment. A server that starts on an empty database makes
 * its plans on an empty table; the reports then arrive faster than autovacuum analyzes them. Every
 * statement on one object and a namespace's page must still read a handful
 * of index blocks, not the index entries of every report of the kind. Autovacuum is off here and
 * the table is never analyzed: the worst case, which a fresh install meets until autovacuum's
 * first pass over the table.
 */

const CLUSTER = "stale";
const TOTAL = 20_000;
const r: StorageResource = { group: "wgpolicyk8s.io", resource: "policyreports", namespaced: true };
const RESOURCE = `${r.group}/${r.resource}`;

let pg: PrivatePostgres;
let sql: Sql;
let store: PostgresStorage;

const report = (namespace: string, name: string, pass: number): KubeObject => ({
  apiVersion: "wgpolicyk8s.io/v1alpha2",
  kind: "PolicyReport",
  metadata: { name, namespace, labels: { app: "x" } },
  summary: { pass },
});

beforeAll(async () => {
  pg = await startPostgres();
  const database = await pg.createDatabase();
  sql = postgres({
    host: pg.host,
    port: pg.port,
    user: pg.user,
    password: pg.password,
    database,
    max: 1,
    onnotice: () => {},
  });
  // one connection, so that every statement below runs on the plans made while the table was empty
  store = await createPostgresStorage(
    postgresStorageOptions(pg, { database, clusterName: CLUSTER, maxOpenConns: 1 }),
  );
  await sql`ALTER TABLE report_objects SET (autovacuum_enabled = false)`;
  // Every statement, on the nearly empty table, more than the five times after which PostgreSQL
  // compares a generic plan with the custom ones and keeps the generic one when it is no dearer.
  const key = { namespace: "ns-000", name: "first" };
  let rv = Number((await store.create(r, key, report("ns-000", "first", 1))).metadata.resourceVersion);
  const second = { namespace: "ns-001", name: "second" };
  await store.create(r, second, report("ns-001", "second", 1));
  for (let i = 0; i < 8; i++) {
    await store.get(r, key);
    // GETs at once are one statement (the read batch)
    await Promise.all([store.get(r, key), store.get(r, second)]);
    rv = Number((await store.update(r, key, report("ns-000", "first", 2 + i), rv)).metadata.resourceVersion);
    await store.list(r, {
      namespace: "ns-000",
      labelSelector: [],
      fieldSelector: [],
      limit: 10,
      consistency: { kind: "latest" },
    });
  }
  // then the reports arrive, and nothing analyzes them
  await sql`
    INSERT INTO report_objects (cluster, resource, key, namespace, name, labels, rv, data)
    SELECT ${CLUSTER}, ${RESOURCE}, ns || '/' || name, ns, name, '{"app":"x"}', 1,
           json_build_object('apiVersion', 'wgpolicyk8s.io/v1alpha2', 'kind', 'PolicyReport',
             'metadata', json_build_object('name', name, 'namespace', ns, 'labels', '{"app":"x"}'::json),
             'summary', json_build_object('pass', g % 7))::text
    FROM (
      SELECT g, 'ns-' || lpad((g % 100)::text, 3, '0') AS ns, 'report-' || lpad(g::text, 6, '0') AS name
      FROM generate_series(1, ${TOTAL}) g
    ) rows`;
  // the insert's own index blocks are counted now, not during the first measurement
  await sql`SELECT pg_stat_force_next_flush()`;
  await sql`SELECT 1`;
}, 120_000);

afterAll(async () => {
  await sql?.end();
  await store?.close();
  await pg?.stop();
});

/**
 * Index blocks of report_objects that `work` read, as the statistics count them, and at least
 * `scans` index scans. A backend sends its counters when it goes idle at least a second after it
 * last sent them, so each count is taken after a pause and one more statement of the store's
 * connection (whose own few blocks are counted in the second).
 */
async function indexBlocks(work: () => Promise<void>, scans: number): Promise<number> {
  const flushed = async () => {
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await store.get(r, { namespace: "ns-000", name: "first" });
    const [row] = await sql<{ blocks: string; scans: string }[]>`
      SELECT (s.idx_blks_hit + s.idx_blks_read)::text AS blocks, u.idx_scan::text AS scans
      FROM pg_statio_user_tables s JOIN pg_stat_user_tables u USING (relid)
      WHERE s.relname = 'report_objects'`;
    return { blocks: Number(row.blocks), scans: Number(row.scans) };
  };
  const before = await flushed();
  await work();
  const after = await flushed();
  expect(after.scans - before.scans - 1).toBeGreaterThanOrEqual(scans);
  return after.blocks - before.blocks;
}

describe("postgres plans made on an empty table", () => {
  it("reads one report by its key, not every report's index entry", async () => {
    const n = 50;
    const blocks = await indexBlocks(async () => {
      for (let i = 0; i < n; i++) {
        const name = `report-${String(i * 397 + 1).padStart(6, "0")}`;
        const got = await store.get(r, {
          namespace: `ns-${String((i * 397 + 1) % 100).padStart(3, "0")}`,
          name,
        });
        expect(got.metadata.name).toBe(name);
      }
    }, n);
    // a point lookup is 2–3 blocks of one index; the whole resource's entries are about 200
    expect(blocks / n).toBeLessThan(12);
  });

  it("reads a batch of reports by their keys, not every report's index entry", async () => {
    const n = 50;
    const keys = Array.from({ length: n }, (_, i) => ({
      namespace: `ns-${String((i * 211 + 5) % 100).padStart(3, "0")}`,
      name: `report-${String(i * 211 + 5).padStart(6, "0")}`,
    }));
    const blocks = await indexBlocks(async () => {
      const got = await Promise.all(keys.map((k) => store.get(r, k)));
      expect(got.map((o) => o.metadata.name)).toEqual(keys.map((k) => k.name));
    }, n);
    expect(blocks / n).toBeLessThan(12);
  });

  it("updates a report by its key", async () => {
    const key = { namespace: "ns-000", name: "first" };
    let rv = Number((await store.get(r, key)).metadata.resourceVersion);
    const n = 20;
    const blocks = await indexBlocks(async () => {
      for (let i = 0; i < n; i++) {
        const written = await store.update(r, key, report("ns-000", "first", 10 + i), rv);
        rv = Number(written.metadata.resourceVersion);
      }
    }, n);
    // the lookups of the row and of the version it replaces, and the new entries in three indexes
    expect(blocks / n).toBeLessThan(40);
  });

  it("reads a namespace's page from that namespace's slice", async () => {
    const n = 10;
    const blocks = await indexBlocks(async () => {
      for (let i = 0; i < n; i++) {
        const page = await store.list(r, {
          namespace: `ns-0${String(40 + i)}`,
          labelSelector: [],
          fieldSelector: [],
          limit: 10,
          consistency: { kind: "latest" },
        });
        expect(page.items).toHaveLength(10);
      }
    }, n);
    expect(blocks / n).toBeLessThan(40);
  });
});
