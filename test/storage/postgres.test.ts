import { afterAll, beforeAll } from "vitest";
import { createPostgresStorage } from "../../src/storage/postgres/index.js";
import type { PostgresOptions, PostgresTuning } from "../../src/storage/postgres/index.js";
import { startPostgres } from "../support/postgres.js";
import type { PrivatePostgres } from "../support/postgres.js";
import { runStorageSuite } from "./suite.js";

let pg: PrivatePostgres;

/** PG_TEST_LOG=1 shows what the backend logs. */
const testLog = process.env.PG_TEST_LOG
  ? { info: console.log, warn: console.warn, error: console.error }
  : undefined;

beforeAll(async () => {
  pg = await startPostgres();
});

afterAll(async () => {
  await pg?.stop();
});

function options(
  overrides: Partial<PostgresOptions & PostgresTuning> = {},
): PostgresOptions & PostgresTuning {
  return {
    host: pg.host,
    port: pg.port,
    database: pg.database,
    user: pg.user,
    password: pg.password,
    sslmode: "disable",
    maxOpenConns: 5,
    clusterName: "suite",
    skipMigrations: false,
    queryTimeoutMs: 5_000,
    historyWindowSeconds: 600,
    pollIntervalMs: 100,
    ...overrides,
  };
}

runStorageSuite("postgres", async (suiteOptions) => {
  const store = await createPostgresStorage(options(suiteOptions), testLog);
  return {
    store,
    cleanup: () => store.close(),
    compact: () => store.compact(0),
  };
});
