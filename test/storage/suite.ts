import { afterAll, beforeAll, describe } from "vitest";
import type { MakeStore, StoreUnderTest } from "./suite/helpers.js";
import { listTests } from "./suite/lists.js";
import { objectTests } from "./suite/objects.js";
import { watchTests } from "./suite/watch.js";

export type { MakeStore, StoreUnderTest, SuiteStoreOptions } from "./suite/helpers.js";

/**
 * The storage conformance suite: every backend runs it (memory, PostgreSQL, etcd), so that the
 * registry above can rely on one behaviour. Most tests share one store from `makeStore()` and each
 * uses collections of its own, so a shared database works; the few that need options (a tiny watch
 * buffer, fast bookmarks) make a store of their own and clean it up, so `makeStore` must allow a
 * second store beside the shared one. Provide `compact` in its result to have the Compacted checks run.
 */
export function runStorageSuite(name: string, makeStore: MakeStore): void {
  describe(`storage conformance: ${name}`, () => {
    let shared: StoreUnderTest | undefined;
    const current = (): StoreUnderTest => {
      if (shared === undefined) throw new Error("the store was not made");
      return shared;
    };
    beforeAll(async () => {
      shared = await makeStore();
    });
    afterAll(async () => {
      await shared?.cleanup();
    });

    objectTests(current);
    listTests(current);
    watchTests(current, makeStore);
  });
}
