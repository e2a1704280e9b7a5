/**
 * The memory baseline: a bare Node HTTPS server with the same TLS (the server's own certificate
 * code and settings, HTTP/2 with HTTP/1.1 fallback) that keeps reports as bytes in Maps and answers
 * the same URLs with the same bytes. It does only what any store must: parse a written body once to
 * learn its key and labels, assign a resource version, and serialize it once. No validation,
 * defaulting, admission, authorization beyond one token compare, or content negotiation.
 *
 * Run as its own process (like the real server) so the client and the server split the cores the
 * same way in both measurements: `node --import tsx bench/raw/memory-server.ts <port> <certDir>`.
 */
import { readFileSync } from "node:fs";
import { createSecureServer } from "node:http2";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { join } from "node:path";
import { selfSignedServingCert } from "../../src/server/serving-cert.js";

interface Stored {
  rv: number;
  bytes: Buffer;
  /** `{"kind":"PartialObjectMetadata",…}` for metadata watches, made at write time. */
  meta: string;
  labels: Record<string, string>;
}

interface Watcher {
  namespace: string;
  metadataOnly: boolean;
  res: Http2ServerResponse;
}

interface Collection {
  kind: string;
  apiVersion: string;
  objects: Map<string, Stored>;
  /** Keys in byte order for paging, rebuilt lazily after creates and deletes. */
  sorted?: string[];
  /** `label=value` → keys, for equality selectors. */
  byLabel: Map<string, Set<string>>;
  watchers: Set<Watcher>;
}

const [portArg, certDir] = process.argv.slice(2);
const token = readFileSync(join(certDir, "admin.token"), "utf8").trim();
const cert = await selfSignedServingCert(certDir, { dns: ["localhost"], ips: ["127.0.0.1"] });
const collections = new Map<string, Collection>();
let revision = 1;

const KINDS: Record<string, string> = {
  policyreports: "PolicyReport",
  clusterpolicyreports: "ClusterPolicyReport",
  ephemeralreports: "EphemeralReport",
  clusterephemeralreports: "ClusterEphemeralReport",
  reports: "Report",
  clusterreports: "ClusterReport",
};

function collection(apiVersion: string, plural: string): Collection {
  const id = `${apiVersion}/${plural}`;
  let c = collections.get(id);
  if (!c) {
    c = {
      kind: KINDS[plural] ?? plural,
      apiVersion,
      objects: new Map(),
      byLabel: new Map(),
      watchers: new Set(),
    };
    collections.set(id, c);
  }
  return c;
}

function index(c: Collection, key: string, labels: Record<string, string>, add: boolean): void {
  for (const [k, v] of Object.entries(labels)) {
    const id = `${k}=${v}`;
    let keys = c.byLabel.get(id);
    if (!keys) c.byLabel.set(id, (keys = new Set()));
    if (add) keys.add(key);
    else keys.delete(key);
  }
}

function notify(c: Collection, type: string, namespace: string, s: Stored): void {
  if (c.watchers.size === 0) return;
  const full = `{"type":"${type}","object":${s.bytes.toString()}}\n`;
  const meta = `{"type":"${type}","object":${s.meta}}\n`;
  for (const w of c.watchers)
    if (!w.namespace || w.namespace === namespace) w.res.write(w.metadataOnly ? meta : full);
}

function send(res: Http2ServerResponse, status: number, body: Buffer | string): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(body);
}

const notFound = (res: Http2ServerResponse) =>
  send(res, 404, '{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}');

function readBody(req: Http2ServerRequest): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

type Meta = Record<string, unknown> & {
  name?: string;
  generateName?: string;
  labels?: Record<string, string>;
};

function store(c: Collection, obj: { metadata: Meta }, namespace: string): Stored {
  obj.metadata.resourceVersion = String(++revision);
  if (namespace) obj.metadata.namespace = namespace;
  const meta = `{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":${JSON.stringify(obj.metadata)}}`;
  return { rv: revision, bytes: Buffer.from(JSON.stringify(obj)), meta, labels: obj.metadata.labels ?? {} };
}

function list(c: Collection, namespace: string, query: URLSearchParams, res: Http2ServerResponse): void {
  const limit = Number(query.get("limit") ?? 0);
  const selector = query.get("labelSelector");
  let keys: Iterable<string>;
  if (selector) {
    // Equality requirements only (what the bench sends): intersect the index sets.
    const sets = selector.split(",").map((r) => c.byLabel.get(r) ?? new Set<string>());
    keys = [...sets[0]].filter((k) => sets.every((s) => s.has(k))).sort();
  } else {
    c.sorted ??= [...c.objects.keys()].sort();
    keys = c.sorted;
  }
  const items: Buffer[] = [];
  for (const key of keys) {
    if (namespace && !key.startsWith(`${namespace}/`)) continue;
    items.push(c.objects.get(key)?.bytes ?? Buffer.alloc(0));
    if (limit > 0 && items.length >= limit) break;
  }
  const head = `{"kind":"${c.kind}List","apiVersion":"${c.apiVersion}","metadata":{"resourceVersion":"${revision}"},"items":[`;
  const parts: Buffer[] = [Buffer.from(head)];
  items.forEach((b, i) => parts.push(i ? Buffer.from(",") : Buffer.alloc(0), b));
  parts.push(Buffer.from("]}"));
  send(res, 200, Buffer.concat(parts));
}

async function handle(req: Http2ServerRequest, res: Http2ServerResponse): Promise<void> {
  if (req.headers.authorization !== `Bearer ${token}`) return send(res, 401, "{}");
  const url = req.url ?? "/";
  if (url.startsWith("/readyz")) return send(res, 200, "ok");
  const q = url.indexOf("?");
  const query = new URLSearchParams(q < 0 ? "" : url.slice(q + 1));
  // /apis/<group>/<version>[/namespaces/<ns>]/<plural>[/<name>]
  const parts = (q < 0 ? url : url.slice(0, q)).split("/").slice(2);
  const apiVersion = `${parts[0]}/${parts[1]}`;
  let rest = parts.slice(2);
  let namespace = "";
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const c = collection(apiVersion, rest[0]);
  const name = rest[1];
  const key = namespace ? `${namespace}/${name}` : name;
  switch (req.method) {
    case "GET": {
      if (!name && query.get("watch")) {
        const w: Watcher = {
          namespace,
          metadataOnly: (req.headers.accept ?? "").includes("PartialObjectMetadata"),
          res,
        };
        res.writeHead(200, { "content-type": "application/json" });
        c.watchers.add(w);
        res.on("close", () => c.watchers.delete(w));
        return;
      }
      if (!name) return list(c, namespace, query, res);
      const s = c.objects.get(key);
      return s ? send(res, 200, s.bytes) : notFound(res);
    }
    case "POST": {
      const obj = JSON.parse((await readBody(req)).toString()) as { metadata: Meta };
      const objName =
        obj.metadata.name || `${obj.metadata.generateName ?? ""}${Math.random().toString(36).slice(2, 7)}`;
      obj.metadata.name = objName;
      const k = namespace ? `${namespace}/${objName}` : objName;
      if (c.objects.has(k)) return send(res, 409, '{"kind":"Status","code":409}');
      const s = store(c, obj, namespace);
      c.objects.set(k, s);
      c.sorted = undefined;
      index(c, k, s.labels, true);
      notify(c, "ADDED", namespace, s);
      return send(res, 201, s.bytes);
    }
    case "PUT": {
      const obj = JSON.parse((await readBody(req)).toString()) as { metadata: Meta };
      const old = c.objects.get(key);
      if (!old) return notFound(res);
      if (String(old.rv) !== obj.metadata.resourceVersion)
        return send(res, 409, '{"kind":"Status","code":409}');
      const s = store(c, obj, namespace);
      index(c, key, old.labels, false);
      index(c, key, s.labels, true);
      c.objects.set(key, s);
      notify(c, "MODIFIED", namespace, s);
      return send(res, 200, s.bytes);
    }
    case "DELETE": {
      const old = c.objects.get(key);
      if (!old) return notFound(res);
      c.objects.delete(key);
      c.sorted = undefined;
      index(c, key, old.labels, false);
      notify(c, "DELETED", namespace, old);
      return send(res, 200, old.bytes);
    }
    default:
      return send(res, 405, "{}");
  }
}

const server = createSecureServer({
  key: cert.key,
  cert: cert.cert,
  allowHTTP1: true,
  requestCert: true,
  rejectUnauthorized: false,
  minVersion: "TLSv1.2",
});
server.on("request", (req: Http2ServerRequest, res: Http2ServerResponse) => {
  handle(req, res).catch((err: unknown) => send(res, 500, JSON.stringify({ message: String(err) })));
});
server.listen(Number(portArg), "127.0.0.1", () => process.stdout.write("ready\n"));
process.on("SIGTERM", () => process.exit(0));
