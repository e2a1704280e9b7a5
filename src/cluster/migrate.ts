import type { KubeObject } from "../apimachinery/types.js";
import type { ResourceDef } from "../resources/types.js";
import { isKubeApiError, type KubeClient } from "./kubeclient.js";
import { errorMessage, silentLog, type ClusterLog } from "./log.js";
import { sleep } from "./sleep.js";

/**
 * Copy reports the cluster stores in CRDs into our store, before the APIService of their group is
 * switched to us (after the switch the same URLs reach this server, and the CRD-stored objects can no
 * longer be read through the API). Run it from the APIService reconciler's `beforeTakeover`.
 *
 * Idempotent: an object already in our store is skipped ("exists"), so a run that stopped half-way is
 * resumed by running it again. Lists are paged (limit/continue); a page that fails is retried from the
 * same continue token, and an expired token (410) restarts the listing, skipping what was copied.
 */

export interface MigrationConfig {
  client: KubeClient;
  /** The kinds to copy (those of one group-version, usually). */
  defs: ResourceDef[];
  /** Store one object; "exists" when an object with this key is already there. */
  write: (def: ResourceDef, obj: KubeObject) => Promise<"created" | "exists">;
  pageSize?: number;
  /** Writes in flight at once (default 8). */
  concurrency?: number;
  /** Attempts per page read and per write before giving up on it (default 3). */
  attempts?: number;
  retryMs?: number;
  signal?: AbortSignal;
  log?: ClusterLog;
}

export interface KindMigration {
  group: string;
  version: string;
  kind: string;
  listed: number;
  created: number;
  existed: number;
  failed: number;
  /** Why nothing was listed, when the cluster does not serve the kind. */
  notServed?: boolean;
}

/** The object as our store should receive it: typed, without the kube-apiserver's resource version. Pure. */
export function migrationObject(def: ResourceDef, item: KubeObject): KubeObject {
  const metadata = { ...item.metadata };
  delete metadata.resourceVersion;
  delete metadata.selfLink;
  return { ...item, apiVersion: def.groupVersion, kind: def.kind, metadata };
}

export function listPath(def: ResourceDef): string {
  return `/apis/${def.group}/${def.version}/${def.plural}`;
}

interface ListPage {
  items?: KubeObject[];
  metadata?: { continue?: string };
}

async function retrying<T>(
  attempts: number,
  retryMs: number,
  signal: AbortSignal | undefined,
  f: () => Promise<T>,
): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await f();
    } catch (err) {
      if (
        i >= attempts ||
        signal?.aborted ||
        (isKubeApiError(err) && err.code >= 400 && err.code < 500 && err.code !== 429)
      ) {
        throw err;
      }
      await sleep(retryMs * i, signal);
    }
  }
}

async function migrateKind(def: ResourceDef, cfg: MigrationConfig): Promise<KindMigration> {
  const log = cfg.log ?? silentLog;
  const attempts = cfg.attempts ?? 3;
  const retryMs = cfg.retryMs ?? 1_000;
  const concurrency = Math.max(1, cfg.concurrency ?? 8);
  const out: KindMigration = {
    group: def.group,
    version: def.version,
    kind: def.kind,
    listed: 0,
    created: 0,
    existed: 0,
    failed: 0,
  };
  let cont: string | undefined;
  let restarts = 0;
  for (;;) {
    if (cfg.signal?.aborted) throw new Error("migration aborted");
    let page: ListPage;
    try {
      page = await retrying(attempts, retryMs, cfg.signal, () =>
        cfg.client.list<ListPage>(listPath(def), { limit: cfg.pageSize ?? 500, continue: cont }),
      );
    } catch (err) {
      if (isKubeApiError(err, 404) && cont === undefined) return { ...out, notServed: true };
      if (isKubeApiError(err, 410) && restarts++ < 3) {
        log.warn({ kind: def.kind }, "migration: continue token expired; listing again from the start");
        cont = undefined;
        continue;
      }
      throw err;
    }
    const items = page.items ?? [];
    out.listed += items.length;
    let next = 0;
    const worker = async () => {
      while (next < items.length && !cfg.signal?.aborted) {
        const obj = migrationObject(def, items[next++]);
        try {
          const r = await retrying(attempts, retryMs, cfg.signal, () => cfg.write(def, obj));
          if (r === "created") out.created++;
          else out.existed++;
        } catch (err) {
          out.failed++;
          log.error(
            {
              kind: def.kind,
              namespace: obj.metadata.namespace,
              name: obj.metadata.name,
              err: errorMessage(err),
            },
            "migration: report not copied",
          );
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
    cont = page.metadata?.continue || undefined;
    if (!cont) return out;
  }
}

/** Copy every kind in `defs`; throws when a listing fails, reports per-kind counts otherwise. */
export async function migrateReports(cfg: MigrationConfig): Promise<KindMigration[]> {
  const log = cfg.log ?? silentLog;
  const results: KindMigration[] = [];
  for (const def of cfg.defs) {
    const r = await migrateKind(def, cfg);
    results.push(r);
    log.info(
      { ...r },
      r.notServed ? "migration: kind not served by the cluster, nothing to copy" : "migration: kind copied",
    );
  }
  return results;
}

/**
 * A `beforeTakeover` for the APIService reconciler: copies the group-version's kinds, and refuses the
 * switch (throws) when any report could not be copied, so nothing is left behind in the CRDs.
 */
export function migrationBeforeTakeover(
  cfg: Omit<MigrationConfig, "defs"> & { defs: ResourceDef[]; onReport?: (r: KindMigration[]) => void },
) {
  return async (
    gv: { group: string; version: string },
    _current: unknown,
    signal?: AbortSignal,
  ): Promise<void> => {
    const defs = cfg.defs.filter((d) => d.group === gv.group && d.version === gv.version);
    const results = await migrateReports({ ...cfg, defs, signal: signal ?? cfg.signal });
    cfg.onReport?.(results);
    const failed = results.reduce((n, r) => n + r.failed, 0);
    if (failed > 0)
      throw new Error(
        `migration of ${gv.version}.${gv.group}: ${failed} reports not copied; not switching yet`,
      );
  };
}
