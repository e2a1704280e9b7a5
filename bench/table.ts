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

/**
 * The most CPU per operation the server may spend at ratio 0.5: half the baseline's rate gives each
 * operation `1,000 ÷ (raw ops/s ÷ 2)` ms of one core. The whole machine's cores, less what the rest
 * of the machine spent per operation, is one bound; one core is the other, since Node serves
 * requests on one thread. Both assume the machine busy every moment, so they are upper bounds.
 */
export function serverBudget(row: Row): { machine: number; oneCore: number } | undefined {
  if (!row.raw || row.raw.opsPerSec <= 0 || !row.cores || row.othersCpuMsPerOp === undefined)
    return undefined;
  const oneCore = 1000 / (row.raw.opsPerSec / 2);
  return { machine: row.cores * oneCore - row.othersCpuMsPerOp, oneCore };
}

function budgetNote(row: Row): string | undefined {
  const q = ratio(row);
  const b = serverBudget(row);
  if (q === undefined || q >= 0.5 || b === undefined || row.serverCpuMsPerOp === undefined) return undefined;
  const most = Math.min(b.machine, b.oneCore);
  const spent = `it spent ${ms(row.serverCpuMsPerOp)}`;
  if (most <= 0)
    return `for ratio 0.5 nothing is left for the server (the machine leaves ${b.machine.toFixed(2)} ms/op); ${spent}`;
  return (
    `for ratio 0.5 the server may spend at most ${ms(most)} ms/op ` +
    `(the machine leaves ${b.machine.toFixed(2)}, one core ${ms(b.oneCore)}); ${spent}`
  );
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
      compare ? undefined : budgetNote(r),
    ]
      .filter((e): e is string => typeof e === "string" && e !== "")
      .map((e) => `- ${r.workload} on ${r.backend} at N=${r.n}: ${e}`),
  );
  return [head, sep, ...lines.map((l) => `| ${l} |`), ...(notes.length ? ["", ...notes] : [])].join("\n");
}
