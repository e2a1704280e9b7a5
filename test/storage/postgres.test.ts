import { afterAll, beforeAll } from "vitest";
import { createPostgresStorage } from "../../src/storage/postgres/index.js";
import { postgresStorageOptions, startPostgres } from "../support/postgres.js";
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

runStorageSuite("postgres", async (suiteOptions) => {
  const store = await createPostgresStorage(
    { ...postgresStorageOptions(pg, { clusterName: "suite" }), ...suiteOptions },
    testLog,
  );
  return {
    store,
    cleanup: () => store.close(),
    compact: () => store.compact(0),
  };
});
