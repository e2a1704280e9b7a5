/**
 * `npm run bench`: reports-server against the raw stores it is built on. For each backend and each
 * N, reports-server (on a private store) and the raw baseline (on another private store of the same
 * kind) are started side by side and loaded with the same data; then each workload runs in short
 * slices that alternate between the two, so that whatever else the machine is doing weighs on both
 * alike. With `--compare <ref>` the baseline is reports-server built from that git ref instead (the
 * "base", compare.ts), started and loaded the same way. See docs/PERFORMANCE.md.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import type { Backend } from "../test/support/server.js";
import { checkoutBuild, type BaseBuild } from "./compare.js";
import type { Population } from "./fixtures.js";
import { parseOptions, type BenchOptions } from "./options.js";
import { RssSampler, cpuSeconds, machineBusySeconds, storeCpuSeconds } from "./proc.js";
import { startRawSubject } from "./raw/index.js";
import { startServerSubject } from "./server-subject.js";
import { mergeSummaries } from "./stats.js";
import type { Subject } from "./subject.js";
import { markdownTable, type Row } from "./table.js";
import {
  WORKLOADS,
  failed,
  loadPopulation,
  type Dataset,
  type RunSettings,
  type Workload,
  type WorkloadResult,
} from "./workloads.js";

const log = (msg: string) =>
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

/** The commit measured (dist/ is built from the working tree, so "+dirty" when it differs). */
function commit(): string {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src"], { encoding: "utf8" }).trim();
    return dirty ? `${head}+dirty` : head;
  } catch {
    return "unknown";
  }
}

/** Other work on the machine takes cores from both the client and the server: say how much. */
const loadAverage = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(" ");

async function load(subject: Subject, n: number, opts: BenchOptions): Promise<Dataset> {
  const small: Population = { n, namespaces: opts.namespaces, resultCount: 20, series: 1 };
  // A tenth as many large reports (at least enough for every update worker to own some).
  const large: Population = {
    n: Math.max(opts.concurrency * 8, Math.floor(n / 10)),
    namespaces: opts.namespaces,
    resultCount: 100,
    series: 2,
  };
  const t0 = performance.now();
  const smallRvs = await loadPopulation(subject.target, small, opts.loadConcurrency, subject.bulk);
  const largeRvs = await loadPopulation(subject.target, large, opts.loadConcurrency, subject.bulk);
  await subject.settle?.();
  const s = (performance.now() - t0) / 1000;
  const how = subject.bulk ? "straight into its store" : "through its API";
  log(`  loaded ${n} + ${large.n} reports into ${subject.target.name} ${how} in ${s.toFixed(1)} s`);
  return { small, large, smallRvs, largeRvs, created: 0 };
}

/** One subject's share of a workload: its slices, and what its process spent on them. */
class Tally {
  readonly parts: WorkloadResult[] = [];
  wallSeconds = 0;
  serverCpuSeconds = 0;
  clientCpuSeconds = 0;
  storeCpuSeconds = 0;
  /** What the whole machine was busy with (every process and the kernel), in CPU seconds. */
  machineCpuSeconds = 0;
  peakRssMiB: number | undefined;

  constructor(readonly subject: Subject) {}

  async slice(w: Workload, data: Dataset, settings: RunSettings): Promise<void> {
    const pid = this.subject.pid;
    const rss = new RssSampler(pid);
    const cpu0 = pid ? cpuSeconds(pid) : 0;
    const storePids = this.subject.storePids;
    const store0 = storePids ? storeCpuSeconds(storePids()) : 0;
    const client0 = process.cpuUsage();
    const machine0 = machineBusySeconds();
    const t0 = performance.now();
    rss.start();
    let result: WorkloadResult;
    try {
      result = await w.run(this.subject.target, data, settings);
    } catch (err) {
      result = failed(err);
    }
    this.wallSeconds += (performance.now() - t0) / 1000;
    const peak = rss.stop();
    if (peak !== undefined) this.peakRssMiB = Math.max(this.peakRssMiB ?? 0, peak);
    if (pid) this.serverCpuSeconds += cpuSeconds(pid) - cpu0;
    const machine1 = machineBusySeconds();
    if (machine0 !== undefined && machine1 !== undefined) this.machineCpuSeconds += machine1 - machine0;
    if (storePids) this.storeCpuSeconds += storeCpuSeconds(storePids()) - store0;
    const client = process.cpuUsage(client0);
    this.clientCpuSeconds += (client.user + client.system) / 1e6;
    this.parts.push(result);
  }

  result(): WorkloadResult {
    const first = this.parts[0];
    const notes = this.parts.map((p) => p.note).filter((n): n is string => n !== undefined);
    return {
      ...mergeSummaries(this.parts),
      unit: first?.unit,
      note: notes.length ? notes.join(" | ") : undefined,
    };
  }
}

function describe(r: WorkloadResult): string {
  return (
    `${r.opsPerSec.toFixed(1)} ops/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms` +
    (r.errors ? `, ${r.errors} errors: ${r.firstError}` : "")
  );
}

async function measure(backend: Backend, n: number, opts: BenchOptions, base?: BaseBuild): Promise<Row[]> {
  const client = { transport: opts.transport, connections: opts.connections };
  const subjects: Subject[] = [];
  // The baseline: the other build when comparing, else the raw store. `raw` names it either way.
  const baseline = () =>
    base
      ? startServerSubject(backend, client, opts.auth, base.root)
      : opts.raw
        ? startRawSubject(backend, client)
        : undefined;
  try {
    const server = await startServerSubject(backend, client, opts.auth);
    subjects.push(server);
    const raw = await baseline();
    if (raw) subjects.push(raw);
    const serverData = await load(server, n, opts);
    const rawData = raw ? await load(raw, n, opts) : undefined;
    const slices = opts.slices;
    const settings: RunSettings = {
      limits: {
        concurrency: opts.concurrency,
        maxOps: Math.ceil(opts.maxOps / slices),
        maxMs: opts.durationMs / slices,
      },
      pageConcurrency: opts.pageConcurrency,
      watchers: opts.watchers,
      mixWorkers: opts.mixWorkers,
    };
    const rows: Row[] = [];
    for (const w of WORKLOADS) {
      if (opts.workloads && !opts.workloads.includes(w.id)) continue;
      const s = new Tally(server);
      const r = raw && rawData ? new Tally(raw) : undefined;
      for (let k = 0; k < slices; k++) {
        // Alternate who goes first, so neither always runs right after the other's writes.
        if (r && rawData && k % 2 === 0) await r.slice(w, rawData, settings);
        await s.slice(w, serverData, settings);
        if (r && rawData && k % 2 === 1) await r.slice(w, rawData, settings);
      }
      const result = s.result();
      const row: Row = {
        workload: w.id,
        backend,
        n,
        server: result,
        rssMiB: s.peakRssMiB,
        serverCores: s.serverCpuSeconds / s.wallSeconds,
        clientCores: s.clientCpuSeconds / s.wallSeconds,
        serverCpuMsPerOp: result.ops > 0 ? (s.serverCpuSeconds * 1000) / result.ops : undefined,
        raw: r?.result(),
        cores: cpus().length,
      };
      const perOp = (t: Tally | undefined, ops: number | undefined) =>
        t?.subject.storePids && ops ? (t.storeCpuSeconds * 1000) / ops : undefined;
      row.storeCpuMsPerOp = perOp(s, result.ops);
      row.rawStoreCpuMsPerOp = perOp(r, row.raw?.ops);
      // Everything but the server process itself: the load generator, the store, the kernel's share.
      if (server.pid && result.ops > 0 && s.machineCpuSeconds > 0)
        row.othersCpuMsPerOp = (Math.max(0, s.machineCpuSeconds - s.serverCpuSeconds) * 1000) / result.ops;
      if (base && r && row.raw && row.raw.ops > 0 && r.subject.pid)
        row.baseServerCpuMsPerOp = (r.serverCpuSeconds * 1000) / row.raw.ops;
      rows.push(row);
      log(`  ${w.id.padEnd(13)} server ${describe(result)}`);
      if (row.raw) log(`  ${"".padEnd(13)} ${base ? "base  " : "raw   "} ${describe(row.raw)}`);
    }
    return rows;
  } finally {
    for (const subject of subjects.reverse()) {
      await subject.target.close().catch(() => {});
      await subject.stop();
    }
  }
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const rows: Row[] = [];
  const began = performance.now();
  const base = opts.compare === undefined ? undefined : await checkoutBuild(opts.compare, log);
  try {
    for (const backend of opts.backends) {
      for (const n of opts.sizes) {
        const t0 = performance.now();
        log(`${backend}, N=${n} (load average ${loadAverage()})`);
        rows.push(...(await measure(backend, n, opts, base)));
        log(`${backend}, N=${n}: done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      }
    }
  } finally {
    base?.remove();
  }
  const total = (performance.now() - began) / 1000;
  console.log(`\n${markdownTable(rows, { compare: base !== undefined })}\n`);
  console.log(
    WORKLOADS.filter((w) => rows.some((r) => r.workload === w.id))
      .map((w) => `- ${w.id}: ${w.title}`)
      .join("\n"),
  );
  console.log(
    `\nTotal time: ${total.toFixed(0)} s (${opts.transport}, ${opts.auth === "front-proxy" ? "as the front proxy, " : ""}` +
      `concurrency ${opts.concurrency}, ` +
      `${opts.slices} alternating slices per workload); load average at the end ${loadAverage()} ` +
      `on ${cpus().length} cores; commit ${commit()}` +
      (base ? `, compared with ${base.ref} (${base.sha}).` : "."),
  );
  if (opts.json) {
    const plain = rows.map((r) => ({
      ...r,
      server: { ...r.server, samples: undefined },
      raw: r.raw && { ...r.raw, samples: undefined },
    }));
    const compared = base && { ref: base.ref, sha: base.sha };
    writeFileSync(
      opts.json,
      JSON.stringify({ options: opts, rows: plain, totalSeconds: total, compared }, null, 2),
    );
  }
}

// Ctrl-C (or a closed terminal): exit through process.exit so the helpers' exit hooks stop the servers
// and stores they started, and remove a --compare worktree.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.once(signal, () => process.exit(130));

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
