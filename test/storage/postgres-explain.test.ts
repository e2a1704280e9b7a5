import postgres from "postgres";
import type { Sql } from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LabelSelector } from "../../src/apimachinery/selector-ast.js";
import type { StorageResource } from "../../src/storage/interface.js";
import { createPostgresStorage } from "../../src/storage/postgres/index.js";
import type { PostgresStorage } from "../../src/storage/postgres/index.js";
import { COUNT_LIMIT, latestPageStatement, pageAtStatement } from "../../src/storage/postgres/queries.js";
import type { Statement } from "../../src/storage/postgres/queries.js";
import type { PageQuery } from "../../src/storage/postgres/queries.js";
import { postgresStorageOptions, startPostgres } from "../support/postgres.js";
import type { PrivatePostgres } from "../support/postgres.js";

/**
 * A page costs the page: with 100,000 reports stored, listing the 5 that match a label (or the first
 * page of a namespace, or a continued page) reads about as many rows as it returns. Checked on the
 * plan PostgreSQL actually ran (EXPLAIN ANALYZE of the very statement the store sends).
 */

const TOTAL = 100_000;
const CLUSTER = "explain";
const r: StorageResource = { group: "wgpolicyk8s.io", resource: "policyreports", namespaced: true };
const RESOURCE = `${r.group}/${r.resource}`;

let pg: PrivatePostgres;
let sql: Sql;
let store: PostgresStorage;

beforeAll(async () => {
  pg = await startPostgres();
  store = await createPostgresStorage(postgresStorageOptions(pg, { clusterName: CLUSTER }));
  sql = postgres({
    host: pg.host,
    port: pg.port,
    user: pg.user,
    password: pg.password,
    database: pg.database,
    max: 1,
    onnotice: () => {},
  });
  // 100 namespaces of 1,000 reports; every 20,000th report (5 in all) carries app=needle.
  await sql`
    INSERT INTO report_objects (cluster, resource, key, namespace, name, labels, rv, data)
    SELECT ${CLUSTER}, ${RESOURCE}, ns || '/' || name, ns, name, labels, 1,
           json_build_object('apiVersion', 'wgpolicyk8s.io/v1alpha2', 'kind', 'PolicyReport',
             'metadata', json_build_object('name', name, 'namespace', ns, 'labels', labels),
             'summary', json_build_object('pass', g % 7))::text
    FROM (
      SELECT g, 'ns-' || lpad((g % 100)::text, 3, '0') AS ns, 'report-' || lpad(g::text, 6, '0') AS name,
             CASE WHEN g % 20000 = 7 THEN '{"app":"needle","env":"prod"}'::jsonb
                  ELSE jsonb_build_object('app', 'hay-' || (g % 50), 'env', 'prod') END AS labels
      FROM generate_series(1, ${TOTAL}) g
    ) rows`;
  // as autovacuum does after this many inserts: a GIN index's statistics (what the planner weighs
  // two label indexes by) are kept by VACUUM, not ANALYZE
  await sql`VACUUM ANALYZE report_objects`;
}, 120_000);

afterAll(async () => {
  await sql?.end();
  await store?.close();
  await pg?.stop();
});

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "Actual Rows": number;
  "Actual Loops": number;
  "Rows Removed by Filter"?: number;
  "Rows Removed by Index Recheck"?: number;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

/** The plan nodes that touched report_objects, and how many of its rows they read. */
async function explain(
  q: PageQuery,
  statement: Statement = latestPageStatement(CLUSTER, RESOURCE, q, 0),
): Promise<{ scans: PlanNode[]; rowsRead: number; indexes: string[] }> {
  const st = statement;
  const [row] = await sql.unsafe(`EXPLAIN (ANALYZE, FORMAT JSON) ${st.text}`, st.params);
  const plan = (row["QUERY PLAN"] as { Plan: PlanNode }[])[0].Plan;
  const all = nodes(plan);
  const scans = all.filter(
    (n) => /Scan/.test(n["Node Type"]) && /report_objects/.test(n["Relation Name"] ?? n["Index Name"] ?? ""),
  );
  const rowsRead = scans
    .filter((n) => n["Relation Name"] === "report_objects")
    .reduce(
      (sum, n) =>
        sum +
        n["Actual Rows"] * n["Actual Loops"] +
        (n["Rows Removed by Filter"] ?? 0) +
        (n["Rows Removed by Index Recheck"] ?? 0),
      0,
    );
  return { scans, rowsRead, indexes: all.flatMap((n) => (n["Index Name"] ? [n["Index Name"]] : [])) };
}

const needle: LabelSelector = [{ key: "app", op: "=", value: "needle" }];

describe("postgres list cost with 100,000 reports", () => {
  it("lists the 5 reports matching a label without reading the other 99,995", async () => {
    // as the store reads a continued page: the state as of the first page's resource version
    const at = await store.currentResourceVersion();
    const q: PageQuery = {
      labelSelector: [],
      fieldSelector: [],
      after: { namespace: "ns-050", name: "report-050050" },
      limit: 11,
    };
    const pinned = await explain(q, pageAtStatement(CLUSTER, RESOURCE, q, at));
    expect(pinned.scans.map((n) => n["Node Type"])).not.toContain("Seq Scan");
    expect(pinned.rowsRead).toBeLessThanOrEqual(11);
    const selected = { ...q, labelSelector: needle, after: undefined, limit: 501 };
    const pinnedSelected = await explain(selected, pageAtStatement(CLUSTER, RESOURCE, selected, at));
    expect(pinnedSelected.rowsRead).toBeLessThanOrEqual(10);

    const page = await store.list(r, {
      labelSelector: needle,
      fieldSelector: [],
      limit: 500,
      consistency: { kind: "latest" },
    });
    expect(page.items.map((o) => o.metadata.name)).toHaveLength(5);
    expect(page.items.every((o) => o.metadata.labels?.app === "needle")).toBe(true);

    const plan = await explain({ labelSelector: needle, fieldSelector: [], limit: 501 });
    expect(plan.scans.map((n) => n["Node Type"])).not.toContain("Seq Scan");
    // the index of key-value pairs, not the one of keys and values apart: every report has "app"
    expect(plan.indexes).toContain("report_objects_label_values");
    expect(plan.rowsRead).toBeLessThanOrEqual(10);

    // a small page must not tempt the planner into walking the key index and filtering
    const small = await explain({ labelSelector: needle, fieldSelector: [], limit: 3 });
    expect(small.rowsRead).toBeLessThanOrEqual(10);
    const combined = await explain({
      namespace: "ns-007",
      labelSelector: [...needle, { key: "env", op: "exists" }, { key: "tier", op: "!" }],
      fieldSelector: [{ field: "metadata.name", op: "!=", value: "x" }],
      limit: 3,
    });
    // every selector in SQL: at worst the planner walks this namespace's slice of the key index
    expect(combined.scans.map((n) => n["Node Type"])).not.toContain("Seq Scan");
    expect(combined.rowsRead).toBeLessThanOrEqual(1_000);
  });

  it("reads one page of a namespace, and a continued page, by the key index", async () => {
    const first = await explain({ namespace: "ns-042", labelSelector: [], fieldSelector: [], limit: 11 });
    expect(first.scans.map((n) => n["Node Type"])).not.toContain("Seq Scan");
    expect(first.rowsRead).toBeLessThanOrEqual(11);

    const continued = await explain({
      labelSelector: [],
      fieldSelector: [],
      after: { namespace: "ns-050", name: "report-050050" },
      limit: 11,
    });
    expect(continued.scans.map((n) => n["Node Type"])).not.toContain("Seq Scan");
    expect(continued.rowsRead).toBeLessThanOrEqual(11);

    const page = await store.list(r, {
      labelSelector: [],
      fieldSelector: [],
      limit: 10,
      continueFrom: {
        after: { namespace: "ns-050", name: "report-050050" },
        resourceVersion: await store.currentResourceVersion(),
      },
      consistency: { kind: "latest" },
    });
    expect(page.items[0].metadata.name).toBe("report-050150");
    expect(page.items).toHaveLength(10);
  });

  it("counts what follows a page no further than COUNT_LIMIT reports", async () => {
    const counted = await explain({ labelSelector: [], fieldSelector: [], limit: 11, countRemaining: true });
    expect(counted.rowsRead).toBeLessThanOrEqual(COUNT_LIMIT + 1 + 11);
    // a continued page, read as of its first page's version: rows unchanged since, and changed since
    const q: PageQuery = { labelSelector: [], fieldSelector: [], limit: 11, countRemaining: true };
    const pinned = await explain(
      q,
      pageAtStatement(CLUSTER, RESOURCE, q, await store.currentResourceVersion()),
    );
    expect(pinned.rowsRead).toBeLessThanOrEqual(2 * (COUNT_LIMIT + 1) + 11);
    const list = async (after: string | undefined, limit: number) => {
      const [namespace, name] = after?.split("/") ?? [];
      const rv = await store.currentResourceVersion();
      return store.list(r, {
        labelSelector: [],
        fieldSelector: [],
        limit,
        continueFrom: after === undefined ? undefined : { after: { namespace, name }, resourceVersion: rv },
        consistency: { kind: "latest" },
      });
    };
    // 100,000 reports follow the first page: more than the count goes
    const first = await list(undefined, 10);
    expect(first.continueAfter).toBeDefined();
    expect(first.remainingItemCount).toBeUndefined();
    // the last five namespaces but one report: 4,999 follow, 4,989 after this page
    const late = await list("ns-095/report-000095", 10);
    expect(late.remainingItemCount).toBe(4_989);
    expect((await list("ns-099/report-099599", 2)).remainingItemCount).toBe(2);
  });
});
