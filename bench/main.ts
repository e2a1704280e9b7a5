/**
 * `npm run bench`: reports-server against the raw stores it is built on. For each backend and each
 * N, the raw store is loaded and measured first, then reports-server on a fresh store of the same
 * kind, with the same data and the same workloads; the table compares them. See docs/PERFORMANCE.md.
 */
import { writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import type { Backend } from "../test/support/server.js";
import { type Population } from "./fixtures.js";
import { parseOptions, type BenchOptions } from "./options.js";
import { RssSampler, cpuSeconds } from "./proc.js";
import { startRawSubject } from "./raw/index.js";
import { startServerSubject } from "./server-subject.js";
import type { Subject } from "./subject.js";
import { markdownTable, type Row } from "./table.js";
import {
  WORKLOADS,
  loadPopulation,
  type Dataset,
  type RunSettings,
  type WorkloadResult,
} from "./workloads.js";

const log = (msg: string) =>
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

interface Measured {
  result: WorkloadResult;
  rssMiB?: number;
  serverCores?: number;
  clientCores?: number;
}

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
  const smallRvs = await loadPopulation(subject.target, small, opts.loadConcurrency);
  const largeRvs = await loadPopulation(subject.target, large, opts.loadConcurrency);
  const s = (performance.now() - t0) / 1000;
  log(`  loaded ${n} + ${large.n} reports into ${subject.target.name} in ${s.toFixed(1)} s`);
  return { small, large, smallRvs, largeRvs };
}

async function measure(subject: Subject, n: number, opts: BenchOptions): Promise<Map<string, Measured>> {
  const settings: RunSettings = {
    limits: { concurrency: opts.concurrency, maxOps: opts.maxOps, maxMs: opts.durationMs },
    pageConcurrency: opts.pageConcurrency,
    watchers: opts.watchers,
    mixWorkers: opts.mixWorkers,
  };
  const data = await load(subject, n, opts);
  const out = new Map<string, Measured>();
  for (const w of WORKLOADS) {
    if (opts.workloads && !opts.workloads.includes(w.id)) continue;
    const rss = new RssSampler(subject.pid);
    const cpu0 = subject.pid ? cpuSeconds(subject.pid) : 0;
    const client0 = process.cpuUsage();
    const t0 = performance.now();
    rss.start();
    let result: WorkloadResult;
    try {
      result = await w.run(subject.target, data, settings);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      result = { ops: 0, errors: 1, elapsedMs: 0, opsPerSec: 0, p50Ms: NaN, p99Ms: NaN, firstError: message };
    }
    const wall = (performance.now() - t0) / 1000;
    const rssMiB = rss.stop();
    const client = process.cpuUsage(client0);
    const m: Measured = {
      result,
      rssMiB,
      serverCores: subject.pid ? (cpuSeconds(subject.pid) - cpu0) / wall : undefined,
      clientCores: (client.user + client.system) / 1e6 / wall,
    };
    out.set(w.id, m);
    log(
      `  ${w.id.padEnd(13)} ${subject.target.name}: ${result.opsPerSec.toFixed(1)} ops/s, p50 ${result.p50Ms.toFixed(2)} ms, ` +
        `p99 ${result.p99Ms.toFixed(2)} ms${result.errors ? `, ${result.errors} errors: ${result.firstError}` : ""}`,
    );
  }
  return out;
}

async function measureWith(start: () => Promise<Subject>, n: number, opts: BenchOptions) {
  const subject = await start();
  try {
    return await measure(subject, n, opts);
  } finally {
    await subject.target.close();
    await subject.stop();
  }
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const client = { transport: opts.transport, connections: opts.connections };
  const rows: Row[] = [];
  const began = performance.now();
  for (const backend of opts.backends as Backend[]) {
    for (const n of opts.sizes) {
      const t0 = performance.now();
      log(`${backend}, N=${n}: raw baseline`);
      const raw = opts.raw ? await measureWith(() => startRawSubject(backend, client), n, opts) : undefined;
      log(`${backend}, N=${n}: reports-server`);
      const server = await measureWith(() => startServerSubject(backend, client), n, opts);
      for (const w of WORKLOADS) {
        const s = server.get(w.id);
        if (!s) continue;
        rows.push({
          workload: w.id,
          backend,
          n,
          server: s.result,
          rssMiB: s.rssMiB,
          serverCores: s.serverCores,
          clientCores: s.clientCores,
          raw: raw?.get(w.id)?.result,
        });
      }
      log(`${backend}, N=${n}: done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    }
  }
  const total = (performance.now() - began) / 1000;
  console.log(`\n${markdownTable(rows)}\n`);
  console.log(
    WORKLOADS.filter((w) => rows.some((r) => r.workload === w.id))
      .map((w) => `- ${w.id}: ${w.title}`)
      .join("\n"),
  );
  console.log(`\nTotal time: ${total.toFixed(0)} s (${opts.transport}, concurrency ${opts.concurrency}).`);
  if (opts.json)
    writeFileSync(opts.json, JSON.stringify({ options: opts, rows, totalSeconds: total }, null, 2));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);

// Ctrl-C: exit through process.exit so the helpers' exit hooks stop the servers and stores they started.
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));
