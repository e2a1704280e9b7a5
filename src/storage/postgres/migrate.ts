import type { Sql } from "postgres";
import { migrations as allMigrations, type Migration } from "./migrations/index.js";
import type { StorageLog } from "./options.js";

/** Any constant works; it only has to be the same for every replica ("reports" in ASCII). */
const MIGRATION_LOCK = 0x7265706f727473n;

/**
 * Applies the migrations this database lacks, in one transaction under an advisory lock, so that
 * replicas starting together apply each one exactly once and a failed migration leaves nothing half
 * done. Returns the versions it applied.
 */
export async function migrate(
  sql: Sql,
  log: StorageLog,
  migrations: readonly Migration[] = allMigrations,
): Promise<number[]> {
  return sql.begin(async (tx) => {
    // Schema changes may take a while (and so may another replica holding the lock).
    await tx`SET LOCAL statement_timeout = 0`;
    await tx`SET LOCAL lock_timeout = 0`;
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK.toString()}::bigint)`;
    await tx`CREATE TABLE IF NOT EXISTS report_schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`;
    const rows = await tx<{ version: number }[]>`SELECT version FROM report_schema_migrations`;
    const applied = new Set(rows.map((r) => r.version));
    const done: number[] = [];
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      await tx.unsafe(m.sql);
      await tx`INSERT INTO report_schema_migrations (version, name) VALUES (${m.version}, ${m.name})`;
      log.info({ version: m.version, migration: m.name }, "applied database migration");
      done.push(m.version);
    }
    return done;
  });
}

/** With --skip-migrations: refuse to start on a schema older than this build expects. */
export async function checkSchema(sql: Sql, migrations: readonly Migration[] = allMigrations): Promise<void> {
  const want = Math.max(...migrations.map((m) => m.version));
  const [exists] = await sql<
    { t: string | null }[]
  >`SELECT to_regclass('report_schema_migrations')::text AS t`;
  const [row] = exists?.t
    ? await sql<{ version: number | null }[]>`SELECT max(version) AS version FROM report_schema_migrations`
    : [{ version: 0 }];
  const have = row?.version ?? 0;
  if (have < want) {
    throw new Error(
      `database schema is at version ${have}, this server needs ${want}: apply the migrations (or start without --skip-migrations)`,
    );
  }
}
