import type { WorkloadResult } from "./workloads.js";

/**
 * One workload on one backend at one N, measured on reports-server and on the baseline: the raw
 * store, or with `--compare` another build of reports-server (the "base"). Pure.
 */
export interface Row {
  workload: string;
  backend: string;
  n: number;
  server: WorkloadResult;
  /** Peak RSS of the server process during the workload, MiB. */
  rssMiB?: number;
  /** CPU the server and this client (the load generator) used during the workload, in cores. */
  serverCores?: number;
  clientCores?: number;
  /** Server CPU time per operation, ms: what a workload costs the server whatever else runs. */
  serverCpuMsPerOp?: number;
  /**
   * The store's CPU time (PostgreSQL's processes, etcd) per operation, ms, under the server and under
   * the baseline: how much more work the server asks of its store than the baseline's plain requests.
   */
  storeCpuMsPerOp?: number;
  rawStoreCpuMsPerOp?: number;
  /**
   * CPU time per operation of everything on the machine but the server process (the load generator,
   * the store, the kernel), ms, during the server's slices; with `cores`, it bounds the ratio.
   */
  othersCpuMsPerOp?: number;
  /** The machine's cores. */
  cores?: number;
  /** The base build's server CPU time per operation, ms (only with `--compare`). */
  baseServerCpuMsPerOp?: number;
  /** The baseline's result (the raw store's, or the base build's with `--compare`). */
  raw?: WorkloadResult;
}

export interface TableOptions {
  /** The baseline is another build of reports-server (`--compare`), not the raw store. */
  compare?: boolean;
}

function rate(v: number): string {
  if (!Number.isFinite(v) || v === 0) return "0";
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

function ms(v: number): string {
  if (!Number.isFinite(v)) return "–";
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

function errors(r: WorkloadResult | undefined, who: string): string | undefined {
  if (!r || r.errors === 0) return undefined;
  return `${who}: ${r.errors} errors (${(r.firstError ?? "").slice(0, 80)})`;
}

function ceiling(row: Row): string {
  const c = ratioCeiling(row);
  return c === undefined ? "–" : c.toFixed(2);
}

export function ratio(row: Row): number | undefined {
  return row.raw && row.raw.opsPerSec > 0 ? row.server.opsPerSec / row.raw.opsPerSec : undefined;
}

/**
 * The ratio a server that cost no CPU at all would reach, with the rest of the machine doing per
 * operation what it did for this server (the load generator's requests, the store's work for what
 * the server asked of it) and every core busy: the cores' time divided by that work is the most
 * operations a second the machine can give, which is then divided by the baseline's rate. A ceiling
 * below 0.5 means no cheaper server makes the goal without asking less of its store or client.
 */
export function ratioCeiling(row: Row): number | undefined {
  if (!row.raw || row.raw.opsPerSec <= 0 || !row.cores || !row.othersCpuMsPerOp) return undefined;
  return (row.cores * 1000) / row.othersCpuMsPerOp / row.raw.opsPerSec;
}

export function markdownTable(rows: Row[], opts: TableOptions = {}): string {
  const compare = opts.compare === true;
  // Which baseline the columns are about; in compare mode a ratio is this build ÷ the base build, where
  // a low one is a regression to read, not a failure to mark.
  const who = compare ? "base" : "raw";
  const columns = [
    "workload",
    "backend",
    "N",
    "ops/s",
    "p50 ms",
    "p99 ms",
    "RSS MiB",
    "cores server/client",
    "server CPU ms/op",
    `store CPU ms/op server/${who}`,
    `${who} ops/s`,
    `${who} p50 ms`,
    ...(compare ? ["base server CPU ms/op"] : []),
    "ratio",
    ...(compare ? [] : ["ceiling"]),
  ];
  const head = `| ${columns.join(" | ")} |`;
  const sep = `|---|---|${"---:|".repeat(columns.length - 2)}`;
  const lines = rows.map((r) => {
    const q = ratio(r);
    const cpu =
      r.serverCores !== undefined && r.clientCores !== undefined
        ? `${r.serverCores.toFixed(2)}/${r.clientCores.toFixed(2)}`
        : "–";
    return [
      r.workload,
      r.backend,
      r.n.toLocaleString("en-US"),
      rate(r.server.opsPerSec),
      ms(r.server.p50Ms),
      ms(r.server.p99Ms),
      r.rssMiB === undefined ? "–" : r.rssMiB.toFixed(0),
      cpu,
      r.serverCpuMsPerOp === undefined ? "–" : ms(r.serverCpuMsPerOp),
      r.storeCpuMsPerOp === undefined ? "–" : `${ms(r.storeCpuMsPerOp)}/${ms(r.rawStoreCpuMsPerOp ?? NaN)}`,
      r.raw ? rate(r.raw.opsPerSec) : "–",
      r.raw ? ms(r.raw.p50Ms) : "–",
      ...(compare ? [r.baseServerCpuMsPerOp === undefined ? "–" : ms(r.baseServerCpuMsPerOp)] : []),
      q === undefined ? "–" : `${q.toFixed(2)}${!compare && q < 0.5 ? " ✗" : ""}`,
      ...(compare ? [] : [ceiling(r)]),
    ].join(" | ");
  });
  const notes = rows.flatMap((r) =>
    [
      errors(r.server, "server"),
      errors(r.raw, who),
      r.server.note && `server: ${r.server.note}`,
      r.raw?.note && `${who}: ${r.raw.note}`,
    ]
      .filter((e): e is string => typeof e === "string" && e !== "")
      .map((e) => `- ${r.workload} on ${r.backend} at N=${r.n}: ${e}`),
  );
  return [head, sep, ...lines.map((l) => `| ${l} |`), ...(notes.length ? ["", ...notes] : [])].join("\n");
}
