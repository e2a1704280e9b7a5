import { Registry } from "prom-client";
import { methodNotAllowed } from "../apimachinery/status.js";
import type { RequestContext } from "../endpoints/context.js";
import { writeBody } from "../endpoints/respond.js";
import type { WatchObserver } from "../endpoints/watch.js";
import type { ResourceDef } from "../resources/types.js";
import type { StorageObserver } from "../storage/instrumented.js";
import { createApiMetrics, type ApiMetrics } from "./metrics/api.js";
import { createProcessMetrics, packageVersion } from "./metrics/process.js";
import { createStorageMetrics } from "./metrics/storage.js";
import { createWatchMetrics } from "./metrics/watch.js";

export type { ApiMetrics, RequestObserver } from "./metrics/api.js";

export interface MetricsOptions {
  /** The served kinds: the only group/resource label values, and the kinds whose objects are counted. */
  resources: readonly ResourceDef[];
  /** Default: package.json's version. */
  version?: string;
  /** Node.js process metrics (CPU, memory, event loop, GC); default true. */
  defaultMetrics?: boolean;
  /** How long per-kind object counts are reused between scrapes; default 30 s. */
  objectsCacheMs?: number;
  /** The leader lease's name, the `name` label of the leader gauge; default "reports-server". */
  leaseName?: string;
}

/**
 * Every metric of one server, in a registry of its own (not prom-client's global one), so that several
 * servers in one process (tests) do not share counters.
 */
export interface Metrics {
  readonly registry: Registry;
  /** For createHttpServer (requests, latency, in-flight, rejections by code, validation failures). */
  readonly api: ApiMetrics;
  /** For the filter chain's onReject: 429s by reason. */
  readonly rejected: (reason: string) => void;
  /** For the watch handler (WatchLimits.observer). */
  readonly watch: WatchObserver;
  /** For instrumentStorage (operations, latency, pool, objects per kind). */
  readonly storage: StorageObserver;
  /** The cluster code calls this when this replica gains or loses leadership. */
  setLeader(leading: boolean): void;
  /** GET /metrics: the Prometheus text format. Serve it through the normal filter chain (authenticated). */
  handle(ctx: RequestContext): Promise<void>;
}

export function createMetrics(opts: MetricsOptions): Metrics {
  const registry = new Registry();
  const api = createApiMetrics(registry, opts.resources);
  const watch = createWatchMetrics(registry, opts.resources);
  const storeOps = createStorageMetrics(registry, opts.resources, {
    objectsCacheMs: opts.objectsCacheMs ?? 30_000,
  });
  // A watcher the store drops for falling behind is a slow watcher too: count it with the others.
  const storage: StorageObserver = {
    operation(backend, op, result, seconds, resource) {
      storeOps.operation(backend, op, result, seconds, resource);
      if (op === "watch" && result === "TooSlow" && resource)
        watch.droppedByStore(resource.group, resource.resource);
    },
    attach: (s, backend) => storeOps.attach?.(s, backend),
  };
  const proc = createProcessMetrics(registry, {
    version: opts.version ?? packageVersion(),
    defaultMetrics: opts.defaultMetrics ?? true,
    leaseName: opts.leaseName ?? "reports-server",
  });
  return {
    registry,
    api,
    rejected: (reason) => api.rejected(reason),
    watch,
    storage,
    setLeader: (leading) => proc.setLeader(leading),
    async handle(ctx) {
      if (ctx.method !== "GET" && ctx.method !== "HEAD") throw methodNotAllowed(`${ctx.method} /metrics`);
      const text = await registry.metrics();
      writeBody(ctx, 200, text, registry.contentType);
    },
  };
}
