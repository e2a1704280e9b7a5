/** How the server reaches its dedicated etcd, and how it keeps it lean. Parsed from flags in config.ts. */
export interface EtcdOptions {
  /** Client URLs, e.g. `https://etcd-0.etcd:2379`. */
  endpoints: string[];
  /** Key prefix of everything this server stores (default `/reports-server`). */
  prefix?: string;
  /** CA bundle that signs the etcd server certificates; enables TLS. */
  caFile?: string;
  /** Client certificate and key, for etcd's `--client-cert-auth`. */
  certFile?: string;
  keyFile?: string;
  /** Part of every key, so several clusters can share one etcd (as with PostgreSQL). */
  clusterName: string;
  /** How often old revisions are compacted (default 5 minutes; 0 turns compaction off). */
  compactionIntervalMs?: number;
  /** Deadline of one unary etcd request (default 5 s): an outage turns into quick Unavailable errors. */
  requestTimeoutMs?: number;
  /** Deadline of the readiness probe's etcd read (default 2 s, as kube-apiserver's etcd health check). */
  readyTimeoutMs?: number;
  /** Events an API watcher may have waiting before it is dropped as too slow (default 1,000). */
  watchBufferSize?: number;
  /**
   * How often a watcher whose events were all filtered away (or who heard of progress from etcd) is
   * told with a BOOKMARK how far the store has moved (default 1 s).
   */
  bookmarkIntervalMs?: number;
  /**
   * How often a watcher asks etcd for a progress notification, which becomes a BOOKMARK (default
   * 10 s). Only used with etcd versions whose requested notifications are ordered with events.
   */
  progressIntervalMs?: number;
  /**
   * Bytes of recent events each collection's shared watch keeps, as etcd sent them, for watchers
   * that start a little behind it (default 8 MiB). A watcher from before them gets an etcd watch of
   * its own. 0 gives every watcher its own etcd watch, as before the shared watch existed.
   */
  watchCacheBytes?: number;
  /** Values larger than this many bytes of JSON are stored gzipped (default 64 KiB). */
  compressAboveBytes?: number;
  /** Keys read per etcd range while listing with selectors or without a limit (default 500). */
  pageSize?: number;
}

export type ResolvedEtcdOptions = Required<Omit<EtcdOptions, "caFile" | "certFile" | "keyFile">> &
  Pick<EtcdOptions, "caFile" | "certFile" | "keyFile">;

export function resolveEtcdOptions(opts: EtcdOptions): ResolvedEtcdOptions {
  if (opts.endpoints.length === 0) throw new Error("etcd: at least one endpoint is required");
  if (!opts.clusterName || opts.clusterName.includes("/"))
    throw new Error(
      `etcd: cluster name must be non-empty and contain no "/", got ${JSON.stringify(opts.clusterName)}`,
    );
  const prefix = (opts.prefix ?? "/reports-server").replace(/\/+$/, "");
  return {
    ...opts,
    prefix,
    compactionIntervalMs: opts.compactionIntervalMs ?? 5 * 60_000,
    requestTimeoutMs: opts.requestTimeoutMs ?? 5_000,
    readyTimeoutMs: opts.readyTimeoutMs ?? 2_000,
    watchBufferSize: opts.watchBufferSize ?? 1_000,
    bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 1_000,
    progressIntervalMs: opts.progressIntervalMs ?? 10_000,
    watchCacheBytes: opts.watchCacheBytes ?? 8 * 1024 * 1024,
    compressAboveBytes: opts.compressAboveBytes ?? 64 * 1024,
    pageSize: opts.pageSize ?? 500,
  };
}
