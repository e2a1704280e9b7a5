import { parseArgs } from "node:util";
import type { Backend } from "../test/support/server.js";
import type { Transport } from "./client.js";

export interface BenchOptions {
  backends: Backend[];
  sizes: number[];
  namespaces: number;
  durationMs: number;
  maxOps: number;
  concurrency: number;
  pageConcurrency: number;
  watchers: number;
  mixWorkers: number;
  loadConcurrency: number;
  transport: Transport;
  connections: number;
  /** How the load generator authenticates to reports-server (front-proxy.ts). */
  auth: "token" | "front-proxy";
  workloads?: string[];
  raw: boolean;
  /** A git ref whose build replaces the raw baseline (compare.ts). */
  compare?: string;
  slices: number;
  json?: string;
}

export const USAGE = `npm run bench -- [options]
  --backends memory,postgres,etcd   backends to measure (default: all three)
  --n 10000,100000                  stored reports (default: 10000,100000)
  --quick                           smoke run: --n 1000 --duration 2 --max-ops 2000 --watchers 20
  --duration <s>                    seconds per workload (default 10)
  --max-ops <n>                     operations per workload at most (default 50000)
  --concurrency <n>                 requests in flight (default 16)
  --page-concurrency <n>            in flight for list-500 and list-label-5 (default 4)
  --watchers <n>                    watchers for watch fan-out (default 100)
  --mix-workers <n>                 Kyverno aggregation workers (default 10)
  --load-concurrency <n>            in flight while loading N (default 32)
  --namespaces <n>                  namespaces the N reports are spread over (default 100)
  --transport h2|h1                 HTTP/2 sessions or HTTP/1.1 keep-alive (default h2)
  --connections <n>                 HTTP/2 sessions or HTTP/1.1 sockets (default 2)
  --auth front-proxy|token          how the client authenticates to reports-server: as the
                                    kube-apiserver aggregator does for every request in a cluster
                                    (front-proxy client certificate, user in X-Remote-* headers),
                                    or with the standalone admin token, which builds before 5501fe5
                                    (--compare) only take; the raw baselines always take a token
                                    (default front-proxy)
  --workloads a,b                   only these workloads (ids as printed)
  --no-raw                          skip the raw-store baselines
  --compare <git-ref>               baseline = reports-server built from that ref (a temporary
                                    git worktree) instead of the raw store; not with --no-raw
  --slices <n>                      alternate server and baseline this many times per workload (default 4)
  --json <file>                     also write every result as JSON`;

const list = (s: string) =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);

function positive(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${v}`);
  return n;
}

export function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      backends: { type: "string" },
      n: { type: "string" },
      quick: { type: "boolean" },
      duration: { type: "string" },
      "max-ops": { type: "string" },
      concurrency: { type: "string" },
      "page-concurrency": { type: "string" },
      watchers: { type: "string" },
      "mix-workers": { type: "string" },
      "load-concurrency": { type: "string" },
      namespaces: { type: "string" },
      transport: { type: "string" },
      connections: { type: "string" },
      auth: { type: "string" },
      workloads: { type: "string" },
      "no-raw": { type: "boolean" },
      compare: { type: "string" },
      slices: { type: "string" },
      json: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = values.quick === true;
  const backends = list(values.backends ?? "memory,postgres,etcd");
  for (const b of backends)
    if (b !== "memory" && b !== "postgres" && b !== "etcd") throw new Error(`unknown backend ${b}`);
  const transport = values.transport ?? "h2";
  if (transport !== "h2" && transport !== "h1") throw new Error("--transport must be h2 or h1");
  const auth = values.auth ?? "front-proxy";
  if (auth !== "token" && auth !== "front-proxy") throw new Error("--auth must be token or front-proxy");
  if (values.compare !== undefined && values["no-raw"] === true)
    throw new Error("--compare and --no-raw exclude each other: --compare replaces the raw baseline");
  if (values.compare !== undefined && values.compare.trim() === "")
    throw new Error("--compare needs a git ref");
  const sizes = list(values.n ?? (quick ? "1000" : "10000,100000")).map((s) => positive("n", s, 0));
  return {
    backends: backends as Backend[],
    sizes,
    namespaces: positive("namespaces", values.namespaces, 100),
    durationMs: positive("duration", values.duration, quick ? 2 : 10) * 1000,
    maxOps: positive("max-ops", values["max-ops"], quick ? 2_000 : 50_000),
    concurrency: positive("concurrency", values.concurrency, 16),
    pageConcurrency: positive("page-concurrency", values["page-concurrency"], 4),
    watchers: positive("watchers", values.watchers, quick ? 20 : 100),
    mixWorkers: positive("mix-workers", values["mix-workers"], 10),
    loadConcurrency: positive("load-concurrency", values["load-concurrency"], 32),
    transport,
    connections: positive("connections", values.connections, 2),
    auth,
    workloads: values.workloads ? list(values.workloads) : undefined,
    raw: values["no-raw"] !== true,
    compare: values.compare,
    slices: Math.round(positive("slices", values.slices, quick ? 2 : 4)),
    json: values.json,
  };
}
