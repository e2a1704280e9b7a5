import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import {
  StatusError,
  alreadyExists,
  badRequest,
  conflict,
  notFound,
  OBJECT_MODIFIED,
} from "../../src/apimachinery/status.js";
import { isPlainObject, type KubeObject, type UserInfo } from "../../src/apimachinery/types.js";
import type { KubeConnection } from "../../src/cluster/kubeconfig.js";
import type { CertPair } from "./certs.js";

/**
 * A stand-in for kube-apiserver with exactly the endpoints reports-server calls: TokenReview,
 * SubjectAccessReview, and get/list/create/update/patch/delete/watch of ConfigMaps, APIServices,
 * Leases, Namespaces, Secrets and any CRD-stored kinds a test registers. Resource versions are one global counter;
 * updates carrying a stale resourceVersion get 409 Conflict; lists page with limit/continue;
 * errors are Status objects as the real server writes them.
 */

export interface FakeResource {
  group: string;
  version: string;
  /** plural */
  resource: string;
  kind: string;
  namespaced: boolean;
}

export const CONFIGMAPS: FakeResource = {
  group: "",
  version: "v1",
  resource: "configmaps",
  kind: "ConfigMap",
  namespaced: true,
};
export const APISERVICES: FakeResource = {
  group: "apiregistration.k8s.io",
  version: "v1",
  resource: "apiservices",
  kind: "APIService",
  namespaced: false,
};
export const NAMESPACES: FakeResource = {
  group: "",
  version: "v1",
  resource: "namespaces",
  kind: "Namespace",
  namespaced: false,
};

export const SECRETS: FakeResource = {
  group: "",
  version: "v1",
  resource: "secrets",
  kind: "Secret",
  namespaced: true,
};

export const LEASES: FakeResource = {
  group: "coordination.k8s.io",
  version: "v1",
  resource: "leases",
  kind: "Lease",
  namespaced: true,
};

/** metav1.FieldSelectorRequirement / LabelSelectorRequirement. */
export interface SarSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface SarResourceAttributes {
  namespace?: string;
  verb?: string;
  group?: string;
  version?: string;
  resource?: string;
  subresource?: string;
  name?: string;
  fieldSelector?: { rawSelector?: string; requirements?: SarSelectorRequirement[] };
  labelSelector?: { rawSelector?: string; requirements?: SarSelectorRequirement[] };
}

export interface SarSpec {
  user?: string;
  groups?: string[];
  uid?: string;
  extra?: Record<string, string[]>;
  resourceAttributes?: SarResourceAttributes;
  nonResourceAttributes?: { path?: string; verb?: string };
}

export interface SarVerdict {
  allowed: boolean;
  denied?: boolean;
  reason?: string;
}

interface Stored {
  res: FakeResource;
  obj: KubeObject;
}

interface WatchEventRec {
  rv: number;
  type: "ADDED" | "MODIFIED" | "DELETED";
  res: FakeResource;
  obj: KubeObject;
}

interface Watcher {
  res: FakeResource;
  namespace: string;
  name?: string;
  send: (ev: WatchEventRec) => void;
}

export interface FakeKubeApiServerOptions {
  serving: CertPair;
  /** When set, every request must carry `Authorization: Bearer <clientToken>` (else 401). */
  clientToken?: string;
}

const clone = <T>(v: T): T => structuredClone(v);

function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return clone(patch);
  const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export class FakeKubeApiServer {
  private server?: Server;
  private rv = 100;
  private readonly objects = new Map<string, Stored>();
  private readonly history: WatchEventRec[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly resources: FakeResource[] = [CONFIGMAPS, SECRETS, APISERVICES, LEASES, NAMESPACES];
  private readonly open = new Set<ServerResponse>();

  /** Bearer token → user, for TokenReview. */
  readonly tokens = new Map<string, UserInfo>();
  /** The SubjectAccessReview decision; deny everything by default. */
  authorize: (spec: SarSpec) => SarVerdict = () => ({ allowed: false });
  /** Return a status code to make the matching request fail with it (injected outages). */
  failRequest: (method: string, path: string) => number | undefined = () => undefined;
  /** Every TokenReview token and SubjectAccessReview spec received, in order. */
  readonly tokenReviews: string[] = [];
  readonly accessReviews: SarSpec[] = [];
  /** Every request as `METHOD path?query`. */
  readonly requests: string[] = [];
  url = "";

  constructor(private readonly opts: FakeKubeApiServerOptions) {}

  async start(): Promise<this> {
    this.server = createServer({ cert: this.opts.serving.cert, key: this.opts.serving.key }, (req, res) => {
      void this.handle(req, res);
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    this.url = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const r of this.open) r.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Connection settings for KubeClient, trusting the stand-in's serving CA. */
  connection(caPem: string): KubeConnection {
    return {
      server: this.url,
      ca: caPem,
      ...(this.opts.clientToken ? { token: this.opts.clientToken } : {}),
    };
  }

  addResource(res: FakeResource): void {
    this.resources.push(res);
  }

  // ---- direct access for tests (as another client of the real API would do it) ----

  getObject(r: FakeResource, namespace: string, name: string): KubeObject | undefined {
    const res = this.registered(r);
    const s = this.objects.get(this.key(res, namespace, name));
    return s ? clone(s.obj) : undefined;
  }

  listObjects(r: FakeResource): KubeObject[] {
    const res = this.registered(r);
    return [...this.objects.values()].filter((s) => s.res === res).map((s) => clone(s.obj));
  }

  /** Create or replace, ignoring resourceVersion: an administrator's `kubectl replace --force`. */
  putObject(r: FakeResource, obj: KubeObject): KubeObject {
    const res = this.registered(r);
    const ns = res.namespaced ? (obj.metadata.namespace ?? "default") : "";
    const existing = this.objects.get(this.key(res, ns, obj.metadata.name ?? ""));
    return existing
      ? this.write(res, ns, { ...clone(obj), metadata: { ...obj.metadata, resourceVersion: undefined } })
      : this.insert(res, ns, clone(obj));
  }

  deleteObject(r: FakeResource, namespace: string, name: string): void {
    const res = this.registered(r);
    const k = this.key(res, namespace, name);
    const s = this.objects.get(k);
    if (!s) return;
    this.objects.delete(k);
    this.emit("DELETED", res, {
      ...s.obj,
      metadata: { ...s.obj.metadata, resourceVersion: String(++this.rv) },
    });
  }

  // ---- HTTP ----

  /** Resources are compared by identity inside; tests may pass an equal literal. */
  private registered(r: FakeResource): FakeResource {
    const found = this.resources.find((x) => x.group === r.group && x.resource === r.resource);
    if (!found) throw new Error(`resource ${r.resource}.${r.group} is not registered with the fake`);
    return found;
  }

  private key(res: FakeResource, namespace: string, name: string): string {
    return `${res.group}/${res.resource}/${namespace}/${name}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "https://x");
    this.requests.push(`${req.method} ${url.pathname}${url.search}`);
    try {
      if (this.opts.clientToken && req.headers.authorization !== `Bearer ${this.opts.clientToken}`) {
        throw new StatusError(401, "Unauthorized", "Unauthorized");
      }
      const injected = this.failRequest(req.method ?? "GET", url.pathname);
      if (injected)
        throw new StatusError(
          injected,
          injected === 503 ? "ServiceUnavailable" : "InternalError",
          `injected failure ${injected}`,
        );
      const body = await readJson(req);
      if (req.method === "POST" && url.pathname === "/apis/authentication.k8s.io/v1/tokenreviews") {
        return this.send(res, 201, this.tokenReview(body));
      }
      if (req.method === "POST" && url.pathname === "/apis/authorization.k8s.io/v1/subjectaccessreviews") {
        return this.send(res, 201, this.accessReview(body));
      }
      this.crud(req.method ?? "GET", url, body, res);
    } catch (err) {
      const e = err instanceof StatusError ? err : new StatusError(500, "InternalError", String(err));
      this.send(res, e.code, e.toStatus());
    }
  }

  private tokenReview(body: unknown): unknown {
    const spec = isPlainObject(body) && isPlainObject(body.spec) ? body.spec : {};
    const token = typeof spec.token === "string" ? spec.token : "";
    this.tokenReviews.push(token);
    const user = this.tokens.get(token);
    const status = user
      ? {
          authenticated: true,
          user: { username: user.name, uid: user.uid, groups: user.groups, extra: user.extra },
        }
      : { authenticated: false, error: "invalid bearer token" };
    return { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", metadata: {}, spec, status };
  }

  private accessReview(body: unknown): unknown {
    const spec = (isPlainObject(body) && isPlainObject(body.spec) ? body.spec : {}) as SarSpec;
    if (!spec.resourceAttributes && !spec.nonResourceAttributes) {
      throw new StatusError(
        422,
        "Invalid",
        'SubjectAccessReview.authorization.k8s.io "" is invalid: spec: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified',
      );
    }
    this.accessReviews.push(spec);
    const v = this.authorize(spec);
    const status: Record<string, unknown> = { allowed: v.allowed };
    if (v.denied) status.denied = true;
    if (v.reason) status.reason = v.reason;
    return { apiVersion: "authorization.k8s.io/v1", kind: "SubjectAccessReview", metadata: {}, spec, status };
  }

  /** /api/v1/..., /apis/<g>/<v>/[namespaces/<ns>/]<resource>[/<name>] */
  private route(pathname: string): { res: FakeResource; namespace: string; name?: string } {
    const parts = pathname.split("/").filter(Boolean);
    let group = "";
    let rest: string[];
    let version: string;
    if (parts[0] === "api") [version, rest] = [parts[1], parts.slice(2)];
    else if (parts[0] === "apis") [group, version, rest] = [parts[1], parts[2], parts.slice(3)];
    else throw notFound({ group: "", resource: "" }, pathname);
    let namespace = "";
    if (rest[0] === "namespaces" && rest.length >= 3) [namespace, rest] = [rest[1], rest.slice(2)];
    const res = this.resources.find(
      (r) => r.group === group && r.version === version && r.resource === rest[0],
    );
    if (!res || rest.length > 2)
      throw new StatusError(404, "NotFound", "the server could not find the requested resource", {
        causes: [{ reason: "UnexpectedServerResponse", message: "404 page not found" }],
      });
    return { res, namespace, name: rest[1] };
  }

  private crud(method: string, url: URL, body: unknown, out: ServerResponse): void {
    const { res, namespace, name } = this.route(url.pathname);
    const gr = { group: res.group, resource: res.resource };
    const q = url.searchParams;
    if (method === "GET" && q.get("watch") === "true") return this.watch(res, namespace, name, q, out);
    if (method === "GET" && !name) return this.send(out, 200, this.list(res, namespace, q));
    if (method === "POST" && !name) {
      if (!isPlainObject(body) || !isPlainObject(body.metadata) || !body.metadata.name)
        throw badRequest("name is required");
      const obj = body as KubeObject;
      const ns = res.namespaced ? namespace : "";
      if (this.objects.has(this.key(res, ns, String(obj.metadata.name))))
        throw alreadyExists(gr, String(obj.metadata.name));
      return this.send(out, 201, this.insert(res, ns, obj));
    }
    if (!name)
      throw new StatusError(
        405,
        "MethodNotAllowed",
        `the server does not allow this method on the requested resource`,
      );
    const ns = res.namespaced ? namespace : "";
    const current = this.objects.get(this.key(res, ns, name));
    if (method === "GET") {
      if (!current) throw notFound(gr, name);
      return this.send(out, 200, current.obj);
    }
    if (method === "DELETE") {
      if (!current) throw notFound(gr, name);
      this.deleteObject(res, ns, name);
      return this.send(out, 200, {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Success",
        details: { name, group: res.group, kind: res.resource, uid: current.obj.metadata.uid },
      });
    }
    if (method === "PUT" || method === "PATCH") {
      if (!current) throw notFound(gr, name);
      const next = (method === "PUT" ? body : mergePatch(current.obj, body)) as KubeObject;
      if (!isPlainObject(next) || !isPlainObject(next.metadata)) throw badRequest("object has no metadata");
      if (next.metadata.name !== name)
        throw badRequest(
          `the name of the object (${String(next.metadata.name)}) does not match the name on the URL (${name})`,
        );
      const expected = next.metadata.resourceVersion;
      if (expected && expected !== current.obj.metadata.resourceVersion)
        throw conflict(gr, name, OBJECT_MODIFIED);
      return this.send(out, 200, this.write(res, ns, next));
    }
    throw new StatusError(
      405,
      "MethodNotAllowed",
      "the server does not allow this method on the requested resource",
    );
  }

  private insert(res: FakeResource, ns: string, obj: KubeObject): KubeObject {
    const stored: KubeObject = {
      ...clone(obj),
      apiVersion: res.group ? `${res.group}/${res.version}` : res.version,
      kind: res.kind,
      metadata: {
        ...clone(obj.metadata),
        ...(res.namespaced ? { namespace: ns } : {}),
        uid: obj.metadata.uid ?? randomUUID(),
        creationTimestamp: obj.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, "Z"),
        resourceVersion: String(++this.rv),
      },
    };
    if (!res.namespaced) delete stored.metadata.namespace;
    this.objects.set(this.key(res, ns, String(stored.metadata.name)), { res, obj: stored });
    this.emit("ADDED", res, stored);
    return clone(stored);
  }

  private write(res: FakeResource, ns: string, next: KubeObject): KubeObject {
    const k = this.key(res, ns, String(next.metadata.name));
    const current = this.objects.get(k)?.obj;
    const stored: KubeObject = {
      ...clone(next),
      apiVersion: current?.apiVersion,
      kind: current?.kind,
      metadata: {
        ...clone(next.metadata),
        uid: current?.metadata.uid,
        creationTimestamp: current?.metadata.creationTimestamp,
        ...(res.namespaced ? { namespace: ns } : {}),
        resourceVersion: String(++this.rv),
      },
    };
    this.objects.set(k, { res, obj: stored });
    this.emit("MODIFIED", res, stored);
    return clone(stored);
  }

  private emit(type: WatchEventRec["type"], res: FakeResource, obj: KubeObject): void {
    const ev: WatchEventRec = { rv: Number(obj.metadata.resourceVersion), type, res, obj: clone(obj) };
    this.history.push(ev);
    for (const w of this.watchers) if (this.matches(w, ev)) w.send(ev);
  }

  private matches(w: Pick<Watcher, "res" | "namespace" | "name">, ev: WatchEventRec): boolean {
    if (ev.res !== w.res) return false;
    if (w.namespace && ev.obj.metadata.namespace !== w.namespace) return false;
    return !w.name || ev.obj.metadata.name === w.name;
  }

  private nameFilter(q: URLSearchParams): string | undefined {
    const fs = q.get("fieldSelector");
    if (!fs) return undefined;
    const m = /^metadata\.name==?(.+)$/.exec(fs);
    if (!m) throw badRequest(`field label not supported: ${fs.split("=")[0]}`);
    return m[1];
  }

  private list(res: FakeResource, namespace: string, q: URLSearchParams): unknown {
    const name = this.nameFilter(q);
    let items = [...this.objects.values()]
      .filter(
        (s) =>
          s.res === res &&
          (!namespace || s.obj.metadata.namespace === namespace) &&
          (!name || s.obj.metadata.name === name),
      )
      .map((s) => s.obj)
      .sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
    const cont = q.get("continue");
    if (cont) {
      let start: string;
      try {
        start = (JSON.parse(Buffer.from(cont, "base64url").toString("utf8")) as { start: string }).start;
      } catch {
        throw badRequest("continue key is not valid: illegal base64 data");
      }
      items = items.filter((o) => keyOf(o) > start);
    }
    const limit = Number(q.get("limit") ?? 0);
    const metadata: Record<string, unknown> = { resourceVersion: String(this.rv) };
    if (limit > 0 && items.length > limit) {
      metadata.remainingItemCount = items.length - limit;
      items = items.slice(0, limit);
      metadata.continue = Buffer.from(
        JSON.stringify({ v: "meta.k8s.io/v1", rv: this.rv, start: keyOf(items[items.length - 1]) }),
      ).toString("base64url");
    }
    const kind = `${res.kind}List`;
    return { apiVersion: res.group ? `${res.group}/${res.version}` : res.version, kind, metadata, items };
  }

  private watch(
    res: FakeResource,
    namespace: string,
    urlName: string | undefined,
    q: URLSearchParams,
    out: ServerResponse,
  ): void {
    const name = urlName ?? this.nameFilter(q);
    const from = q.get("resourceVersion");
    out.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked" });
    this.open.add(out);
    const write = (type: string, obj: unknown) => out.write(JSON.stringify({ type, object: obj }) + "\n");
    const w: Watcher = { res, namespace, name, send: (ev) => write(ev.type, ev.obj) };
    if (!from || from === "0") {
      for (const s of this.objects.values()) {
        if (this.matches(w, { rv: 0, type: "ADDED", res: s.res, obj: s.obj })) write("ADDED", s.obj);
      }
    } else {
      for (const ev of this.history) if (ev.rv > Number(from) && this.matches(w, ev)) w.send(ev);
    }
    this.watchers.add(w);
    const end = () => {
      this.watchers.delete(w);
      this.open.delete(out);
      clearTimeout(timer);
    };
    const timeoutSeconds = Number(q.get("timeoutSeconds") ?? 0);
    const timer = timeoutSeconds > 0 ? setTimeout(() => out.end(), timeoutSeconds * 1000) : undefined;
    out.on("close", end);
  }

  private send(res: ServerResponse, code: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
    res.end(text);
  }
}

function keyOf(o: KubeObject): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : String(o.metadata.name);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
  if (chunks.length === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw badRequest("the body of the request could not be decoded as JSON");
  }
}
