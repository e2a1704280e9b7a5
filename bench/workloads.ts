import { performance } from "node:perf_hooks";
import {
  CLUSTER_EPHEMERAL_REPORT,
  CLUSTER_POLICY_REPORT,
  EPHEMERAL_REPORT,
  GROUP_LABEL,
  POLICY_REPORT,
  SEQ_ANNOTATION,
  admissionReport,
  mergedReport,
  policyReport,
  storedReport,
  uid,
  withOwner,
  type Obj,
  type Population,
  type Result,
} from "./fixtures.js";
import { closedLoop, pooled, type LoopLimits } from "./loop.js";
import { Samples, summarize, type Summary } from "./stats.js";
import { storedForm, type BulkWriter } from "./bulk.js";
import { nameOf, namespaceOf, type Target } from "./target.js";

/** The stored data a run works on: N small reports and a smaller set of large ones. */
export interface Dataset {
  small: Population;
  large: Population;
  /** Last known resource version of each stored report, kept current by the update workloads. */
  smallRvs: string[];
  largeRvs: string[];
  /** Reports created so far by the create workloads (their names must not repeat across slices). */
  created: number;
}

export interface RunSettings {
  limits: LoopLimits;
  /** Concurrency of the list-a-page workload (each response is ~3 MB). */
  pageConcurrency: number;
  watchers: number;
  /** Kyverno's aggregation workers. */
  mixWorkers: number;
}

export interface WorkloadResult extends Summary {
  /** What one op is, when it is not one request. */
  unit?: string;
  note?: string;
}

export interface Workload {
  id: string;
  title: string;
  run(target: Target, data: Dataset, settings: RunSettings): Promise<WorkloadResult>;
}

let stamp = 0;
/** Every write carries a new stamp, so no update is a no-op and watchers can match events to writes. */
const nextStamp = () => ++stamp;

const random = (n: number) => Math.floor(Math.random() * n);

/** Whether storedForm() rebuilds exactly what the server stored for `input` (all but the uid). */
function reproduces(template: Obj, input: Obj): boolean {
  const rebuilt = storedForm(template, input, input);
  if (!rebuilt) return false;
  rebuilt.metadata.uid = template.metadata.uid;
  const stored = { ...template, metadata: { ...template.metadata, resourceVersion: undefined } };
  return JSON.stringify(rebuilt) === JSON.stringify(stored);
}

/**
 * Loads a population through `target.create` with `concurrency` in flight, or, given a bulk writer,
 * creates the first report through the API and writes the others, in the form the server stored the
 * first, straight into its store. Returns every report's resource version.
 */
export async function loadPopulation(
  target: Target,
  p: Population,
  concurrency: number,
  bulk?: BulkWriter,
): Promise<string[]> {
  const rvs = new Array<string>(p.n);
  const first = storedReport(p, 0);
  rvs[0] = (await target.create(POLICY_REPORT, first)).resourceVersion;
  const template = bulk && (await target.get(POLICY_REPORT, namespaceOf(first), nameOf(first)))?.object();
  if (bulk && template && reproduces(template, first)) {
    const CHUNK = 5_000; // objects built at once: a chunk of 100-result reports is ~150 MB of heap
    for (let start = 1; start < p.n; start += CHUNK) {
      const objects: Obj[] = [];
      for (let i = start; i < Math.min(p.n, start + CHUNK); i++)
        objects.push(storedForm(template, first, storedReport(p, i)) ?? storedReport(p, i));
      (await bulk.write(POLICY_REPORT, objects)).forEach((rv, k) => (rvs[start + k] = rv));
    }
    return rvs;
  }
  await pooled(p.n - 1, concurrency, async (k) => {
    rvs[k + 1] = (await target.create(POLICY_REPORT, storedReport(p, k + 1))).resourceVersion;
  });
  return rvs;
}

/** The report a workload gets back in place of a result when it could not run at all. */
export function failed(err: unknown): WorkloadResult {
  const message = err instanceof Error ? err.message : String(err);
  return { ops: 0, errors: 1, elapsedMs: 0, opsPerSec: 0, p50Ms: NaN, p99Ms: NaN, firstError: message };
}

function getWorkload(id: string, title: string, pick: (d: Dataset) => Population): Workload {
  return {
    id,
    title,
    run: (target, data, s) =>
      closedLoop(s.limits, async () => {
        const p = pick(data);
        const i = random(p.n);
        const obj = storedReport(p, i);
        const got = await target.get(POLICY_REPORT, String(obj.metadata.namespace), nameOf(obj));
        if (!got) throw new Error(`stored report ${nameOf(obj)} not found`);
      }),
  };
}

function updateWorkload(id: string, title: string, large: boolean): Workload {
  return {
    id,
    title,
    run: (target, data, s) => {
      const p = large ? data.large : data.small;
      const rvs = large ? data.largeRvs : data.smallRvs;
      // Worker w owns the reports w, w+C, w+2C… so no two writers race on one resource version.
      const cursor = new Array<number>(s.limits.concurrency).fill(0);
      return closedLoop(s.limits, async (_i, w) => {
        const slots = Math.max(1, Math.floor(p.n / s.limits.concurrency));
        const i = w + s.limits.concurrency * (cursor[w]++ % slots);
        if (i >= p.n) return;
        const written = await target.update(POLICY_REPORT, storedReport(p, i, nextStamp(), rvs[i]));
        rvs[i] = written.resourceVersion;
      });
    },
  };
}

function createWorkload(id: string, title: string, resultCount: number, series: number): Workload {
  return {
    id,
    title,
    run: (target, data, s) =>
      closedLoop(s.limits, async () => {
        const i = data.created++;
        const obj = policyReport({ namespace: `bench-new-${i % 10}`, name: uid(series, i), resultCount });
        await target.create(POLICY_REPORT, obj);
      }),
  };
}

const listPage: Workload = {
  id: "list-500",
  title: "list a page of 500 (all namespaces)",
  run: (target, _data, s) =>
    closedLoop({ ...s.limits, concurrency: s.pageConcurrency }, async () => {
      await target.list(POLICY_REPORT, { limit: 500 });
    }),
};

const listLabel: Workload = {
  id: "list-label-5",
  title: "list 5 label-matched among N (all namespaces, as many in flight as list-500)",
  run: (target, data, s) =>
    // As few in flight as list-500: on etcd every such list reads all N reports.
    closedLoop({ ...s.limits, concurrency: s.pageConcurrency }, async (i) => {
      const groups = Math.max(1, Math.floor(data.small.n / 5));
      const labels = { [GROUP_LABEL]: `g${data.small.series}-${random(groups)}` };
      const listed = await target.list(POLICY_REPORT, { labels });
      // Check the answer once per run: a fast wrong answer is no result.
      if (i === 0 && listed.items().length !== Math.min(5, data.small.n))
        throw new Error(`label selector matched ${listed.items().length} reports, expected 5`);
    }),
};

const SEQ_FIELD = `"${SEQ_ANNOTATION}":"`;

const watchFanout: Workload = {
  id: "watch-fanout",
  title: "watch fan-out: update → event at each of W watchers",
  async run(target, data, s) {
    const sentAt = new Map<number, number>();
    const latencies = new Samples();
    let lastDelivery = 0;
    const onEvent = (text: string) => {
      const at = text.indexOf(SEQ_FIELD);
      if (at < 0) return; // bookmarks, and events of writes from other workloads
      const start = at + SEQ_FIELD.length;
      const sent = sentAt.get(Number(text.slice(start, text.indexOf('"', start))));
      if (sent === undefined) return;
      lastDelivery = performance.now();
      latencies.add(lastDelivery - sent);
    };
    const handles = [];
    try {
      for (let w = 0; w < s.watchers; w++)
        handles.push(await target.watch([POLICY_REPORT], { metadataOnly: false, onEvent }));
      const p = data.small;
      const writers = 2;
      const cursor = [0, 0];
      const maxWrites = Math.min(s.limits.maxOps, 1_000);
      const t0 = performance.now();
      const writes = await closedLoop(
        { concurrency: writers, maxOps: maxWrites, maxMs: s.limits.maxMs },
        async (_i, w) => {
          const i = w + writers * (cursor[w]++ % Math.max(1, Math.floor(p.n / writers)));
          const seq = nextStamp();
          sentAt.set(seq, performance.now());
          data.smallRvs[i] = (
            await target.update(POLICY_REPORT, storedReport(p, i, seq, data.smallRvs[i]))
          ).resourceVersion;
        },
      );
      const expected = writes.ops * s.watchers;
      const waitUntil = performance.now() + 15_000;
      while (latencies.count < expected && performance.now() < waitUntil)
        await new Promise((r) => setTimeout(r, 20));
      const missing = expected - latencies.count;
      const result: WorkloadResult = summarize(
        latencies.values(),
        latencies.count,
        missing + writes.errors,
        Math.max(1, lastDelivery - t0),
        writes.firstError ?? (missing > 0 ? `${missing} of ${expected} events never arrived` : undefined),
      );
      result.unit = "event delivered";
      result.note = `${writes.ops} updates × ${s.watchers} watchers, ${writers} writers`;
      return result;
    } finally {
      handles.forEach((h) => h.close());
    }
  },
};

function mergeResults(reports: Obj[]): Result[] {
  const byRule = new Map<string, Result>();
  for (const r of reports) {
    const spec = r.spec as { results?: Result[] } | undefined;
    for (const res of spec?.results ?? []) byRule.set(`${String(res.policy)}/${String(res.rule)}`, res);
  }
  return [...byRule.values()];
}

const kyvernoMix: Workload = {
  id: "kyverno-mix",
  title: "Kyverno admission flow (7 requests) with 4 metadata informers",
  async run(target, _data, s) {
    let informerEvents = 0;
    // a chunk may hold several event lines; bookmarks are not events
    const countEvents = (text: string) => {
      for (const line of text.split("\n")) if (line && !line.includes('"BOOKMARK"')) informerEvents++;
    };
    const informers = await target.watch(
      [EPHEMERAL_REPORT, CLUSTER_EPHEMERAL_REPORT, POLICY_REPORT, CLUSTER_POLICY_REPORT],
      { metadataOnly: true, onEvent: countEvents },
    );
    try {
      const rounds = new Array<number>(s.mixWorkers).fill(0);
      const result: WorkloadResult = await closedLoop(
        { ...s.limits, concurrency: s.mixWorkers },
        async (i, w) => {
          // Each worker owns its resources (Kyverno's queue never runs one key on two workers).
          const ns = `bench-mix-${w}`;
          const resourceUid = uid(7, w * 100_000 + (rounds[w]++ % 50));
          // 1. admission: an ephemeral report with generateName
          const created = await target.create(
            EPHEMERAL_REPORT,
            admissionReport(ns, uid(8, i), resourceUid, 20),
          );
          // 2. the aggregator reads it and adds the owner and the resource.uid label
          const eph = await target.get(EPHEMERAL_REPORT, ns, created.name);
          if (!eph) throw new Error(`ephemeral report ${created.name} vanished`);
          await target.update(EPHEMERAL_REPORT, withOwner(eph.object(), resourceUid));
          // 3. merge into the PolicyReport named by the resource's UID
          const current = await target.get(POLICY_REPORT, ns, resourceUid);
          const listed = (
            await target.list(EPHEMERAL_REPORT, {
              namespace: ns,
              labels: { "audit.kyverno.io/resource.uid": resourceUid },
            })
          ).items();
          const merged = mergedReport(ns, resourceUid, mergeResults(listed), current?.resourceVersion);
          // Kyverno writes the report only when the merge changed it (new results, timestamps); an
          // identical PUT would be a no-op with no event, which is not the flow being measured
          merged.metadata.annotations = { "bench.reports-server.io/flow": `${Date.now()}-${w}-${i}` };
          if (current) await target.update(POLICY_REPORT, merged);
          else await target.create(POLICY_REPORT, merged);
          for (const r of listed) await target.remove(EPHEMERAL_REPORT, ns, nameOf(r));
        },
      );
      result.unit = "admission flow (7 requests)";
      // events still on their way when the loop ended are counted, up to a second of quiet
      for (let seen = -1, waited = 0; seen !== informerEvents && waited < 3000; waited += 300) {
        seen = informerEvents;
        await new Promise((r) => setTimeout(r, 300));
      }
      const perFlow = result.ops > 0 ? (informerEvents / result.ops).toFixed(2) : "–";
      result.note = `${s.mixWorkers} workers; informers saw ${informerEvents} events, ${perFlow} per flow (4 expected)`;
      return result;
    } finally {
      informers.close();
    }
  },
};

/** In the order they run: reads first, then writes that keep N, and creates (which grow it) last. */
export const WORKLOADS: Workload[] = [
  getWorkload("get-6k", "get (20 results, ≈6 KB)", (d) => d.small),
  getWorkload("get-27k", "get (100 results, ≈27 KB)", (d) => d.large),
  listPage,
  listLabel,
  updateWorkload("update-6k", "update, full PUT (20 results)", false),
  updateWorkload("update-27k", "update, full PUT (100 results)", true),
  watchFanout,
  kyvernoMix,
  createWorkload("create-6k", "create (20 results)", 20, 3),
  createWorkload("create-27k", "create (100 results)", 100, 6),
];
