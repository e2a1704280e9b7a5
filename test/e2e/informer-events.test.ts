import {
  KubeConfig,
  KubernetesObjectApi,
  makeInformer,
  type KubernetesObject,
} from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { del, get, post, put, type JsonObject } from "../support/http.js";
import {
  CLUSTER_EPHEMERAL_REPORT,
  CLUSTER_POLICY_REPORT,
  EPHEMERAL_REPORT,
  POLICY_REPORT,
  makeReport,
  resourcePath,
  uniqueName,
  type KindInfo,
  type Obj,
} from "../support/reports.js";
import { useServer, type Backend, type TestServer } from "../support/server.js";
import {
  listResourceVersion,
  openMetadataWatch,
  type RecordedWatch,
  type SeenEvent,
  type Transport,
} from "./support/metadata-watch.js";

/**
 * No watch event is lost under Kyverno's load: ten aggregation workers run admission flows (create
 * an EphemeralReport with generateName, PUT it with owner and label, create or PUT the PolicyReport,
 * DELETE the EphemeralReport) while Kyverno's four metadata informers watch every kind cluster-wide,
 * over HTTP/2 and HTTP/1.1, and a client-node informer watches EphemeralReports. Every watcher must
 * receive exactly one event per write of its kind, of the write's type, in resource version order.
 */

const WORKERS = 10;
const FLOWS_PER_WORKER = 30;
/** PolicyReports per worker: a flow creates its resource's report the first time, PUTs it later. */
const RESOURCES_PER_WORKER = 3;
const DELIVERY_TIMEOUT_MS = 20_000;

const WATCHED = [EPHEMERAL_REPORT, CLUSTER_EPHEMERAL_REPORT, POLICY_REPORT, CLUSTER_POLICY_REPORT];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One acknowledged write, as the watchers must report it. */
interface Write {
  kind: KindInfo;
  type: "ADDED" | "MODIFIED" | "DELETED";
  key: string;
  /** The stored object's resource version (unset for a delete: its answer is a Status). */
  rv?: number;
}

const meta = (o: JsonObject): JsonObject => o.metadata as JsonObject;
const keyOf = (o: JsonObject): string =>
  meta(o).namespace ? `${String(meta(o).namespace)}/${String(meta(o).name)}` : String(meta(o).name);

async function expectJson(what: string, res: Promise<{ status: number; body: string }>, ok: number[]) {
  const r = await res;
  if (!ok.includes(r.status)) throw new Error(`${what} → ${r.status}: ${r.body}`);
  return JSON.parse(r.body) as JsonObject;
}

/** One Kyverno admission flow; each worker owns its namespace (or name prefix) and its resources. */
async function admissionFlow(srv: TestServer, run: string, w: number, f: number, writes: Write[]) {
  const cluster = w % 2 === 1;
  const eph = cluster ? CLUSTER_EPHEMERAL_REPORT : EPHEMERAL_REPORT;
  const pol = cluster ? CLUSTER_POLICY_REPORT : POLICY_REPORT;
  const ns = cluster ? undefined : `${run}-w${w}`;
  const resourceUid = `${run}-w${w}-res${f % RESOURCES_PER_WORKER}`;
  const record = (kind: KindInfo, type: Write["type"], o: JsonObject) =>
    writes.push({ kind, type, key: keyOf(o), rv: Number(meta(o).resourceVersion) });

  // 1. admission: generateName, no owner
  const body = makeReport(eph, { generateName: `${run}-w${w}-f${f}-`, namespace: ns });
  const created = await expectJson("create ephemeral", post(srv, resourcePath(eph, ns), body), [201]);
  record(eph, "ADDED", created);
  // 2. the aggregator adds the ownerReference and the resource.uid label with a full PUT
  const name = String(meta(created).name);
  const owned = structuredClone(created) as Obj;
  owned.metadata.labels = {
    ...(owned.metadata.labels as Record<string, string>),
    "audit.kyverno.io/resource.uid": resourceUid,
  };
  owned.metadata.ownerReferences = [{ apiVersion: "v1", kind: "Pod", name: resourceUid, uid: resourceUid }];
  const updated = await expectJson("update ephemeral", put(srv, resourcePath(eph, ns, name), owned), [200]);
  record(eph, "MODIFIED", updated);
  // 3. merge into the PolicyReport named by the resource's UID: create it, or PUT over it
  const current = await get(srv, resourcePath(pol, ns, resourceUid));
  const report = makeReport(pol, { name: resourceUid, namespace: ns, pass: f });
  if (current.status === 404) {
    record(pol, "ADDED", await expectJson("create report", post(srv, resourcePath(pol, ns), report), [201]));
  } else {
    if (current.status !== 200) throw new Error(`get report → ${current.status}: ${current.body}`);
    report.metadata.resourceVersion = meta(current.json()).resourceVersion;
    const path = resourcePath(pol, ns, resourceUid);
    const stored = await expectJson("update report", put(srv, path, report), [200]);
    record(pol, "MODIFIED", stored);
    if (f % 4 === 0) {
      // The aggregator re-PUTs merged results that did not change: as with kube-apiserver, such a
      // no-op keeps the resource version and sends no event (the watchers must see nothing more).
      report.metadata.resourceVersion = meta(stored).resourceVersion;
      const again = await expectJson("no-op update", put(srv, path, report), [200]);
      const rvs = [meta(again).resourceVersion, meta(stored).resourceVersion];
      if (rvs[0] !== rvs[1]) throw new Error(`a no-op PUT moved ${path} from ${rvs[1]} to ${rvs[0]}`);
    }
  }
  // 4. the merged ephemeral report goes (the answer is a Status naming it, as for a custom resource)
  const gone = await expectJson("delete", del(srv, resourcePath(eph, ns, name)), [200, 202]);
  if (gone.kind !== "Status" || (gone.details as JsonObject).name !== name) {
    throw new Error(`delete ${name} answered ${JSON.stringify(gone)}`);
  }
  writes.push({ kind: eph, type: "DELETED", key: ns ? `${ns}/${name}` : name });
}

/** Problems common to every watch: stream errors, kinds, resource versions not growing. */
function streamProblems(watch: RecordedWatch, kindSent: string | undefined): string[] {
  const problems = [...watch.problems];
  let last = 0;
  for (const e of watch.events) {
    if (e.type !== "BOOKMARK" && kindSent && e.kind !== kindSent)
      problems.push(`${e.type} ${e.key} came as ${e.kind}`);
    if (e.type === "BOOKMARK" ? e.rv < last : e.rv <= last)
      problems.push(`${e.type} ${e.key} ${e.rv} after resource version ${last}`);
    last = Math.max(last, e.rv);
  }
  return problems;
}

/** Differences between the object events a watch received and the writes of its kind (none when exact). */
function compareWithWrites(events: SeenEvent[], writes: Write[]): string[] {
  const problems: string[] = [];
  const byKey = new Map<string, SeenEvent[]>();
  for (const e of events) if (e.type !== "BOOKMARK") byKey.set(e.key, [...(byKey.get(e.key) ?? []), e]);
  const expected = new Map<string, Write[]>();
  for (const wr of writes) expected.set(wr.key, [...(expected.get(wr.key) ?? []), wr]);
  const show = (xs: { type: string; rv?: number }[]) => xs.map((x) => `${x.type}@${x.rv ?? "?"}`).join(" ");
  for (const [key, want] of expected) {
    const got = byKey.get(key) ?? [];
    const same =
      got.length === want.length &&
      want.every((wr, i) => got[i].type === wr.type && (wr.rv === undefined || got[i].rv === wr.rv));
    if (!same) problems.push(`${key}: wrote ${show(want)}, watch saw ${show(got)}`);
  }
  for (const key of byKey.keys())
    if (!expected.has(key)) problems.push(`${key}: events for an object nobody wrote`);
  return problems;
}

const describeEvent = (e: SeenEvent) => `${e.type} ${e.key} ${e.rv}`;

interface OpenedWatch {
  kind: KindInfo;
  /** The resource version of the list the watch started from. */
  from: number;
  watch: RecordedWatch;
}

/** As a Kyverno metadata informer starts: list (metadata Accept), then watch from the list's version. */
async function openWatchers(srv: TestServer, transports: Transport[], tag: string): Promise<OpenedWatch[]> {
  const opened: OpenedWatch[] = [];
  for (const kind of WATCHED) {
    const base = resourcePath(kind);
    const rv = await listResourceVersion(srv, `${base}?limit=500`);
    for (const transport of transports) {
      const path = `${base}?allowWatchBookmarks=true&resourceVersion=${rv}&timeoutSeconds=540&watch=true`;
      const label = `${kind.plural} ${transport}${tag}`;
      opened.push({ kind, from: Number(rv), watch: await openMetadataWatch(srv, path, transport, label) });
    }
  }
  return opened;
}

type Report = KubernetesObject;

/** client-node 1.4.0's informer on all EphemeralReports (full JSON objects), its callbacks as events. */
async function startInformer(srv: TestServer) {
  const kc = new KubeConfig();
  kc.loadFromFile(srv.kubeconfig);
  const api = KubernetesObjectApi.makeApiClient(kc);
  const informer = makeInformer<Report>(kc, resourcePath(EPHEMERAL_REPORT), () =>
    api.list<Report>(EPHEMERAL_REPORT.apiVersion, EPHEMERAL_REPORT.kind),
  );
  const events: SeenEvent[] = [];
  const problems: string[] = [];
  let highest = 0;
  const note = (type: string) => (o: Report) => {
    const rv = Number(o.metadata?.resourceVersion);
    highest = Math.max(highest, rv);
    events.push({ type, key: `${o.metadata?.namespace}/${o.metadata?.name}`, rv, kind: String(o.kind) });
  };
  informer.on("add", note("ADDED"));
  informer.on("update", note("MODIFIED"));
  informer.on("delete", note("DELETED"));
  informer.on("error", (e) => problems.push(`informer error: ${String(e)}`));
  await informer.start();
  const watch: RecordedWatch = {
    label: "client-node informer",
    events,
    problems,
    highest: () => highest,
    close: () => void informer.stop(),
  };
  return watch;
}

function informerTest(backend: Backend) {
  describe(`watch events under Kyverno's admission flows on ${backend}`, { timeout: 120_000 }, () => {
    const fx = useServer(backend);

    it(`${WORKERS} workers × ${FLOWS_PER_WORKER} flows: every watcher sees every write once, in order`, async () => {
      const srv = fx.server();
      const run = uniqueName("ie");
      const watchers = await openWatchers(srv, ["h2", "h1"], "");
      const informer = await startInformer(srv);
      // Watchers that start while the flows run: history replay hands over to live events mid-stream.
      let late: Promise<OpenedWatch[]> | undefined;
      const closeAll = async () => {
        watchers.forEach(({ watch }) => watch.close());
        informer.close();
        (await late?.catch(() => []))?.forEach(({ watch }) => watch.close());
      };
      try {
        const writes: Write[] = [];
        const failures: string[] = [];
        let flows = 0;
        await Promise.all(
          Array.from({ length: WORKERS }, async (_, w) => {
            for (let f = 0; f < FLOWS_PER_WORKER; f++) {
              try {
                await admissionFlow(srv, run, w, f, writes);
              } catch (err) {
                failures.push(String(err));
              }
              if (++flows === (WORKERS * FLOWS_PER_WORKER) / 3) {
                late = openWatchers(srv, ["h2"], " (mid-run)");
                late.catch(() => {}); // awaited, and its failure reported, once the flows are done
              }
            }
          }),
        );
        expect(failures).toEqual([]);
        const lateWatchers = await (late ?? Promise.resolve([]));
        expect(lateWatchers).toHaveLength(WATCHED.length);

        // A last write per kind, after every flow: once a watcher reports it, all before it arrived.
        const last = new Map<KindInfo, number>();
        for (const kind of WATCHED) {
          const ns = kind.namespaced ? `${run}-w0` : undefined;
          const body = makeReport(kind, { name: `${run}-end`, namespace: ns });
          const end = await expectJson("final create", post(srv, resourcePath(kind, ns), body), [201]);
          writes.push({ kind, type: "ADDED", key: keyOf(end), rv: Number(meta(end).resourceVersion) });
          last.set(kind, Number(meta(end).resourceVersion));
        }
        const all = [...watchers, ...lateWatchers, { kind: EPHEMERAL_REPORT, from: 0, watch: informer }];
        const deadline = Date.now() + DELIVERY_TIMEOUT_MS;
        while (
          all.some(({ kind, watch }) => watch.highest() < (last.get(kind) ?? 0)) &&
          Date.now() < deadline
        )
          await sleep(50);
        expect(writes.length).toBe(WORKERS * FLOWS_PER_WORKER * 4 + WATCHED.length);

        // Each store is private to this describe, but keep to this run's objects all the same.
        const ours = (events: SeenEvent[]) =>
          events.filter((e) => e.type === "BOOKMARK" || e.key.includes(run));
        const report: Record<string, string[]> = {};
        for (const { kind, watch } of watchers) {
          report[watch.label] = [
            ...streamProblems(watch, "PartialObjectMetadata"),
            ...compareWithWrites(
              ours(watch.events),
              writes.filter((wr) => wr.kind === kind),
            ),
          ];
        }
        report[informer.label] = [
          ...streamProblems(informer, EPHEMERAL_REPORT.kind),
          ...compareWithWrites(
            ours(informer.events),
            writes.filter((wr) => wr.kind === EPHEMERAL_REPORT),
          ),
        ];
        // A mid-run watcher must see exactly what the first h2 watcher of its kind saw after its start.
        for (const { kind, from, watch } of lateWatchers) {
          const first = watchers.find((o) => o.kind === kind)?.watch;
          const want = ours(first?.events ?? []).filter((e) => e.type !== "BOOKMARK" && e.rv > from);
          const got = ours(watch.events).filter((e) => e.type !== "BOOKMARK");
          const missing = want.filter((e) => !got.some((g) => describeEvent(g) === describeEvent(e)));
          const extra = got.filter((g) => !want.some((e) => describeEvent(g) === describeEvent(e)));
          report[watch.label] = [
            ...streamProblems(watch, "PartialObjectMetadata"),
            ...missing.map((e) => `missing ${describeEvent(e)}`),
            ...extra.map((e) => `unexpected ${describeEvent(e)}`),
          ];
        }
        expect(report).toEqual(Object.fromEntries(Object.keys(report).map((k) => [k, []])));
      } finally {
        await closeAll();
      }
    });
  });
}

for (const backend of ["memory", "postgres", "etcd"] satisfies Backend[]) informerTest(backend);
