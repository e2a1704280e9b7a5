import type { KubeObject } from "../apimachinery/types.js";
import type { ResourceDef } from "../resources/types.js";
import { createAPIServiceReconciler, type GroupVersionRef, type ServiceRef } from "./apiservice.js";
import type { KubeClient } from "./kubeclient.js";
import { createLeaderElector } from "./leader.js";
import { silentLog, type ClusterLog } from "./log.js";
import { migrationBeforeTakeover, type KindMigration } from "./migrate.js";

/**
 * What runs only on the leader, wired together: leader election on a Lease; while leading, the
 * APIService reconciler, which migrates CRD-stored reports of a group before switching it to us.
 * Stopping releases the Lease and leaves every APIService in place.
 */

export interface ClusterControllersConfig {
  client: KubeClient;
  /** Where the Lease lives (the server's namespace). */
  namespace: string;
  /** Unique per replica (pod name + random suffix). */
  identity: string;
  service: ServiceRef;
  groupVersions: GroupVersionRef[];
  caBundle: () => string | undefined;
  insecureSkipTLSVerify?: boolean;
  /** Undefined or false: no migration (--skip-migration). */
  migration?:
    | false
    | {
        defs: ResourceDef[];
        write: (def: ResourceDef, obj: KubeObject) => Promise<"created" | "exists">;
        concurrency?: number;
        pageSize?: number;
        onReport?: (results: KindMigration[]) => void;
      };
  leaseName?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  resyncMs?: number;
  log?: ClusterLog;
}

export interface ClusterControllers {
  isLeader(): boolean;
  /** Re-check every APIService now, when leading (e.g. after the serving CA rotated). */
  reconcileNow(): Promise<void>;
  stop(): Promise<void>;
}

export function startClusterControllers(cfg: ClusterControllersConfig): ClusterControllers {
  const log = cfg.log ?? silentLog;
  const migration = cfg.migration;
  const reconciler = createAPIServiceReconciler({
    client: cfg.client,
    groupVersions: cfg.groupVersions,
    service: cfg.service,
    caBundle: cfg.caBundle,
    insecureSkipTLSVerify: cfg.insecureSkipTLSVerify,
    resyncMs: cfg.resyncMs,
    log,
    beforeTakeover: migration
      ? migrationBeforeTakeover({
          client: cfg.client,
          defs: migration.defs,
          write: migration.write,
          concurrency: migration.concurrency,
          pageSize: migration.pageSize,
          onReport: migration.onReport,
          log,
        })
      : undefined,
  });
  const elector = createLeaderElector({
    client: cfg.client,
    namespace: cfg.namespace,
    name: cfg.leaseName,
    identity: cfg.identity,
    leaseDurationMs: cfg.leaseDurationMs,
    renewDeadlineMs: cfg.renewDeadlineMs,
    retryPeriodMs: cfg.retryPeriodMs,
    log,
    onStartedLeading: (signal) => {
      reconciler.start();
      signal.addEventListener("abort", () => reconciler.stop(), { once: true });
    },
  });
  elector.start();
  return {
    isLeader: () => elector.isLeader(),
    async reconcileNow() {
      if (elector.isLeader()) await reconciler.reconcileAll();
    },
    stop: () => elector.stop(),
  };
}
