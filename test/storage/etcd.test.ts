import { Etcd3 } from "etcd3";
import { afterAll, beforeAll } from "vitest";
import { createEtcdStorage } from "../../src/storage/etcd/index.js";
import type { EtcdOptions } from "../../src/storage/etcd/index.js";
import { startEtcd } from "../support/etcd.js";
import type { PrivateEtcd } from "../support/etcd.js";
import { runStorageSuite } from "./suite.js";

let etcd: PrivateEtcd;
let raw: Etcd3;

beforeAll(async () => {
  etcd = await startEtcd();
  raw = new Etcd3({ hosts: etcd.endpoints });
});

afterAll(async () => {
  raw?.close();
  await etcd?.stop();
});

function options(overrides: Partial<EtcdOptions> = {}): EtcdOptions {
  return { endpoints: etcd.endpoints, clusterName: "suite", compactionIntervalMs: 0, ...overrides };
}

/** Compacts etcd's whole history up to its current revision, as an operator's `etcdctl compact` would. */
async function compactAll(): Promise<void> {
  const { header } = await raw.kv.range({ key: Buffer.from("/"), count_only: true });
  await raw.kv.compact({ revision: header.revision, physical: true });
}

runStorageSuite("etcd", async (suiteOptions) => {
  const store = await createEtcdStorage(options(suiteOptions));
  return { store, cleanup: () => store.close(), compact: compactAll };
});
