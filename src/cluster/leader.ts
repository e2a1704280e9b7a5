import type { KubeObject } from "../apimachinery/types.js";
import { isKubeApiError, type KubeClient } from "./kubeclient.js";
import { errorMessage, silentLog, type ClusterLog } from "./log.js";
import { jitter, sleep } from "./sleep.js";

/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it: acquire
 * when the lease is free or its holder has not renewed within the lease duration (measured on our own
 * clock from when we saw the record change, so clock skew between nodes does not matter), renew every
 * retry period, step down when renewal has failed for the renew deadline, release on a clean stop.
 */

export interface LeaderElectionConfig {
  client: KubeClient;
  namespace: string;
  /** Lease name (default "reports-server"). */
  name?: string;
  /** Unique per replica: the pod name plus something random. */
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Runs when this replica becomes leader; `signal` aborts when it stops leading. */
  onStartedLeading: (signal: AbortSignal) => void | Promise<void>;
  onStoppedLeading?: () => void;
  /** Another (or this) replica holds the lease. */
  onNewLeader?: (identity: string) => void;
  log?: ClusterLog;
}

export interface LeaderElector {
  start(): void;
  /** Stop competing; when leading, step down and (unless `release: false`) free the lease for a successor. */
  stop(opts?: { release?: boolean }): Promise<void>;
  isLeader(): boolean;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

type Lease = KubeObject & { spec?: LeaseSpec };

/** MicroTime: RFC 3339 with microseconds. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

export function createLeaderElector(cfg: LeaderElectionConfig): LeaderElector {
  const name = cfg.name ?? "reports-server";
  const leaseMs = cfg.leaseDurationMs ?? 15_000;
  const renewDeadlineMs = cfg.renewDeadlineMs ?? 10_000;
  const retryMs = cfg.retryPeriodMs ?? 2_000;
  const log = cfg.log ?? silentLog;
  const collection = `/apis/coordination.k8s.io/v1/namespaces/${cfg.namespace}/leases`;
  const path = `${collection}/${name}`;
  const stopping = new AbortController();
  let leading = false;
  let running: Promise<void> | undefined;
  let observed: { raw: string; holder: string; durationMs: number; at: number } | undefined;
  let lastLeader = "";

  const observe = (spec: LeaseSpec, now: number) => {
    const raw = JSON.stringify(spec);
    if (observed?.raw !== raw) {
      const seconds = spec.leaseDurationSeconds ?? 0;
      observed = {
        raw,
        holder: spec.holderIdentity ?? "",
        durationMs: seconds > 0 ? seconds * 1000 : leaseMs,
        at: now,
      };
    }
    if (observed.holder && observed.holder !== lastLeader) {
      lastLeader = observed.holder;
      cfg.onNewLeader?.(lastLeader);
    }
  };

  const ourSpec = (now: number, prev?: LeaseSpec): LeaseSpec => {
    const keep = prev?.holderIdentity === cfg.identity;
    return {
      holderIdentity: cfg.identity,
      leaseDurationSeconds: Math.max(1, Math.round(leaseMs / 1000)),
      acquireTime: keep && prev?.acquireTime ? prev.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: (prev?.leaseTransitions ?? 0) + (keep || !prev ? 0 : 1),
    };
  };

  /** One attempt; true when we hold the lease afterwards. */
  const tryAcquireOrRenew = async (): Promise<boolean> => {
    const now = Date.now();
    let lease: Lease;
    try {
      lease = await cfg.client.get<Lease>(path);
    } catch (err) {
      if (!isKubeApiError(err, 404)) throw err;
      const spec = ourSpec(now);
      try {
        await cfg.client.create(collection, {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name, namespace: cfg.namespace },
          spec,
        });
      } catch (e) {
        if (isKubeApiError(e, 409)) return false;
        throw e;
      }
      observe(spec, now);
      return true;
    }
    const spec = lease.spec ?? {};
    observe(spec, now);
    const heldByOther = !!spec.holderIdentity && spec.holderIdentity !== cfg.identity;
    if (heldByOther && observed && observed.at + observed.durationMs > now) return false;
    const next = ourSpec(now, spec);
    try {
      await cfg.client.update(path, { ...lease, spec: next });
    } catch (e) {
      if (isKubeApiError(e, 409)) return false;
      throw e;
    }
    observe(next, now);
    return true;
  };

  const attempt = async (): Promise<boolean> => {
    try {
      return await tryAcquireOrRenew();
    } catch (err) {
      log.warn(
        { lease: `${cfg.namespace}/${name}`, err: errorMessage(err) },
        "leader election: lease not updated",
      );
      return false;
    }
  };

  const run = async () => {
    const stop = stopping.signal;
    while (!stop.aborted) {
      while (!stop.aborted && !(await attempt())) await sleep(jitter(retryMs), stop);
      if (stop.aborted) break;
      leading = true;
      const term = new AbortController();
      log.info({ identity: cfg.identity, lease: `${cfg.namespace}/${name}` }, "became leader");
      Promise.resolve()
        .then(() => cfg.onStartedLeading(term.signal))
        .catch((err: unknown) => log.error({ err: errorMessage(err) }, "leader work failed"));
      let renewed = Date.now();
      while (!stop.aborted) {
        await sleep(retryMs, stop);
        if (stop.aborted) break;
        if (await attempt()) renewed = Date.now();
        else if (observed && observed.holder !== cfg.identity && observed.holder !== "") break;
        if (Date.now() - renewed > renewDeadlineMs) break;
      }
      leading = false;
      term.abort();
      log.info({ identity: cfg.identity }, "stopped leading");
      cfg.onStoppedLeading?.();
    }
  };

  const release = async () => {
    try {
      const lease = await cfg.client.get<Lease>(path);
      if (lease.spec?.holderIdentity !== cfg.identity) return;
      const now = microTime(Date.now());
      // client-go's release: no holder and a one-second lease, so a successor takes over at once.
      await cfg.client.update(path, {
        ...lease,
        spec: {
          leaseDurationSeconds: 1,
          acquireTime: now,
          renewTime: now,
          leaseTransitions: lease.spec.leaseTransitions ?? 0,
        },
      });
    } catch (err) {
      log.warn(
        { err: errorMessage(err) },
        "leader election: could not release the lease; it expires by itself",
      );
    }
  };

  return {
    start() {
      running ??= run();
    },
    async stop(opts = {}) {
      const wasLeading = leading;
      stopping.abort();
      await running;
      if (wasLeading && opts.release !== false) await release();
    },
    isLeader: () => leading,
  };
}
