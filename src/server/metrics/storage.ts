import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { ResourceDef } from "../../resources/types.js";
import type { Storage } from "../../storage/interface.js";
import { hasPoolStats, type StorageObserver } from "../../storage/instrumented.js";
import { Tally } from "./tally.js";

/** Storage calls are local (memory) to a network round trip (etcd, PostgreSQL): finer than API buckets. */
const STORAGE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface StorageMetricsOptions {
  /** How long a per-kind object count is reused, so that scrapes do not each count every table. */
  objectsCacheMs: number;
}

interface Attached {
  storage: Storage;
  backend: string;
}

export function createStorageMetrics(
  registry: Registry,
  defs: readonly ResourceDef[],
  opts: StorageMetricsOptions,
): StorageObserver {
  let attached: Attached | undefined;
  const counted = new Tally();
  new Counter({
    name: "reports_server_storage_operations_total",
    help: "Storage calls by backend, operation and result (ok, or the storage error code).",
    labelNames: ["backend", "operation", "result"] as const,
    registers: [registry],
    collect() {
      counted.flush(this);
    },
  });
  const duration = new Histogram({
    name: "reports_server_storage_operation_duration_seconds",
    help: "Storage call latency by backend and operation (watches excluded).",
    labelNames: ["backend", "operation"] as const,
    buckets: STORAGE_BUCKETS,
    registers: [registry],
  });

  new Gauge({
    name: "reports_server_storage_pool_connections",
    help: "Database connections by state (open, idle), for backends with a pool (PostgreSQL).",
    labelNames: ["backend", "state"] as const,
    registers: [registry],
    collect() {
      this.reset();
      if (!attached || !hasPoolStats(attached.storage)) return;
      const s = attached.storage.poolStats();
      this.set({ backend: attached.backend, state: "open" }, s.size);
      this.set({ backend: attached.backend, state: "idle" }, s.idle);
    },
  });
  new Gauge({
    name: "reports_server_storage_pool_waiting",
    help: "Queries waiting for a free database connection (PostgreSQL).",
    labelNames: ["backend"] as const,
    registers: [registry],
    collect() {
      this.reset();
      if (!attached || !hasPoolStats(attached.storage)) return;
      this.set({ backend: attached.backend }, attached.storage.poolStats().waiting);
    },
  });

  // Counted on scrape, at most once per objectsCacheMs, one count at a time: a scrape every few seconds
  // must not turn into a COUNT(*) per kind per scrape on a large table.
  let counts = new Map<string, number>();
  let countedAt = -Infinity;
  let counting: Promise<void> | undefined;
  const recount = async (a: Attached) => {
    const next = new Map<string, number>();
    for (const d of defs) {
      const label = `${d.plural}.${d.group}`;
      try {
        next.set(
          label,
          await a.storage.count({ group: d.group, resource: d.plural, namespaced: d.namespaced }),
        );
      } catch {
        // kube-apiserver's convention for apiserver_storage_objects: -1 when the count failed.
        next.set(label, -1);
      }
    }
    counts = next;
    countedAt = performance.now();
  };
  new Gauge({
    name: "apiserver_storage_objects",
    help: "Objects stored per resource (resource.group), counted at most every few seconds; -1 if unknown.",
    labelNames: ["resource"] as const,
    registers: [registry],
    async collect() {
      const a = attached;
      if (!a) return;
      if (performance.now() - countedAt >= opts.objectsCacheMs) {
        counting ??= recount(a).finally(() => (counting = undefined));
        await counting;
      }
      this.reset();
      for (const [resource, n] of counts) this.set({ resource }, n);
    },
  });

  return {
    operation(backend, op, result, seconds) {
      counted.add(backend, op, result);
      if (seconds !== undefined) duration.labels(backend, op).observe(seconds);
    },
    attach(storage, backend) {
      attached = { storage, backend };
    },
  };
}
