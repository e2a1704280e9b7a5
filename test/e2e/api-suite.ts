import { describe } from "vitest";
import { useServer, type Backend } from "../support/server.js";
import type { SuiteContext } from "./suite/context.js";
import { crudTests } from "./suite/crud.js";
import { discoveryTests } from "./suite/discovery.js";
import { errorTests } from "./suite/errors.js";
import { informerTests } from "./suite/informer.js";
import { listTests } from "./suite/lists.js";
import { mutationTests } from "./suite/mutations.js";
import { versionTests } from "./suite/versions.js";
import { watchTests } from "./suite/watch.js";
import { historyTests } from "./suite/history.js";

/**
 * The API as kubectl, client-go and client-node see it, against one server on `backend`. Every test
 * works in its own namespace (or, for cluster kinds, under its own label), so tests run concurrently
 * and the suite never needs a clean store.
 */
export function runApiSuite(backend: Backend): void {
  // kubectl processes are slow on a loaded machine, and the three backends' suites run side by side.
  describe(`reports-server API on ${backend}`, { timeout: 120_000 }, () => {
    const fixture = useServer(backend);
    const ctx: SuiteContext = { backend, server: fixture.server, store: fixture.store };
    discoveryTests(ctx);
    crudTests(ctx);
    mutationTests(ctx);
    listTests(ctx);
    errorTests(ctx);
    watchTests(ctx);
    informerTests(ctx);
    versionTests(ctx);
    // Last and alone: compaction would expire other tests' continue tokens and watch positions.
    historyTests(ctx);
  });
}
