import type { KubeObject } from "../../src/apimachinery/types.js";
import { createEtcdStorage } from "../../src/storage/etcd/index.js";
import type { EtcdOptions, EtcdStorage } from "../../src/storage/etcd/index.js";
import type { StorageResource } from "../../src/storage/interface.js";
import type { PrivateEtcd } from "../support/etcd.js";
import { POLICY_REPORT, makeReport } from "../support/reports.js";

/** What the etcd storage tests that start their own etcd share. */

export const reports: StorageResource = {
  group: "wgpolicyk8s.io",
  resource: "policyreports",
  namespaced: true,
};

/** No selectors: every change of the collection. */
export const all = { labelSelector: [], fieldSelector: [] };

export const report = (name: string, extra: Record<string, unknown> = {}) =>
  makeReport(POLICY_REPORT, { name, namespace: "apps", extra }) as KubeObject;

/** A store on `etcd` with short deadlines and no compaction, so tests see failures and history quickly. */
export function etcdStore(
  etcd: PrivateEtcd,
  clusterName: string,
  overrides: Partial<EtcdOptions> = {},
): Promise<EtcdStorage> {
  return createEtcdStorage({
    endpoints: etcd.endpoints,
    clusterName,
    compactionIntervalMs: 0,
    requestTimeoutMs: 1_000,
    readyTimeoutMs: 500,
    ...overrides,
  });
}

/** Retries `check` until it resolves, every `everyMs`; its last error once `timeoutMs` has passed. */
export async function eventually(
  check: () => Promise<unknown>,
  timeoutMs = 20_000,
  everyMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }
}
