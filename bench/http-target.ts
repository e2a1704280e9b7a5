import { resourcePath } from "../test/support/reports.js";
import type { HttpClient } from "./client.js";
import type { KindInfo, Obj } from "./fixtures.js";
import type { Fetched, ListQuery, Listed, Target, WatchHandle, WatchOptions, Written } from "./target.js";
import { nameOf, namespaceOf } from "./target.js";

/** Kyverno's metadata clients send exactly these (KYVERNO-CLIENT.md). */
export const METADATA_LIST_ACCEPT =
  "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
export const METADATA_ACCEPT =
  "application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";

const RV_FIELD = '"resourceVersion":"';

/**
 * The first resourceVersion in a JSON body: the object's own (metadata precedes the report's
 * fields and the fixtures carry no other), or a list's. Saves parsing 6–30 KB per response.
 */
export function firstResourceVersion(body: Buffer): string {
  const at = body.indexOf(RV_FIELD);
  if (at < 0) return "";
  const start = at + RV_FIELD.length;
  return body.toString("latin1", start, body.indexOf(34, start));
}

function fail(method: string, path: string, status: number, body: Buffer): Error {
  return new Error(`${method} ${path}: HTTP ${status} ${body.toString("utf8", 0, 300)}`);
}

/** A Kubernetes API server (reports-server, or the bare baseline that speaks the same URLs) over HTTP. */
export class HttpTarget implements Target {
  constructor(
    readonly name: string,
    private readonly http: HttpClient,
  ) {}

  async create(kind: KindInfo, obj: Obj): Promise<Written> {
    const path = resourcePath(kind, namespaceOf(obj));
    const res = await this.http.request("POST", path, JSON.stringify(obj));
    if (res.status !== 201 && res.status !== 200) throw fail("POST", path, res.status, res.body);
    const name = nameOf(obj) || nameOf(JSON.parse(res.body.toString()) as Obj);
    return { name, resourceVersion: firstResourceVersion(res.body) };
  }

  async get(kind: KindInfo, namespace: string, name: string): Promise<Fetched | undefined> {
    const path = resourcePath(kind, namespace, name);
    const res = await this.http.request("GET", path);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw fail("GET", path, res.status, res.body);
    return {
      resourceVersion: firstResourceVersion(res.body),
      object: () => JSON.parse(res.body.toString()) as Obj,
    };
  }

  async update(kind: KindInfo, obj: Obj): Promise<Written> {
    const path = resourcePath(kind, namespaceOf(obj), nameOf(obj));
    const res = await this.http.request("PUT", path, JSON.stringify(obj));
    if (res.status !== 200) throw fail("PUT", path, res.status, res.body);
    return { name: nameOf(obj), resourceVersion: firstResourceVersion(res.body) };
  }

  async remove(kind: KindInfo, namespace: string, name: string): Promise<void> {
    const path = resourcePath(kind, namespace, name);
    const res = await this.http.request("DELETE", path);
    if (res.status !== 200 && res.status !== 202) throw fail("DELETE", path, res.status, res.body);
  }

  async list(kind: KindInfo, query: ListQuery): Promise<Listed> {
    const params = new URLSearchParams();
    if (query.limit) params.set("limit", String(query.limit));
    if (query.labels) {
      const sel = Object.entries(query.labels).map(([k, v]) => `${k}=${v}`);
      params.set("labelSelector", sel.join(","));
    }
    const qs = params.toString();
    const path = `${resourcePath(kind, query.namespace)}${qs ? `?${qs}` : ""}`;
    const res = await this.http.request("GET", path);
    if (res.status !== 200) throw fail("GET", path, res.status, res.body);
    return { items: () => (JSON.parse(res.body.toString()) as { items: Obj[] }).items };
  }

  async watch(kinds: KindInfo[], options: WatchOptions): Promise<WatchHandle> {
    const streams: { close(): void }[] = [];
    const handle = { close: () => streams.forEach((s) => s.close()) };
    try {
      for (const kind of kinds) {
        // Start at the current resource version, as an informer does after its initial list.
        const base = resourcePath(kind);
        const head = await this.http.request(
          "GET",
          `${base}?limit=1`,
          undefined,
          options.metadataOnly ? METADATA_LIST_ACCEPT : undefined,
        );
        if (head.status !== 200) throw fail("GET", base, head.status, head.body);
        const rv = firstResourceVersion(head.body);
        let pending = "";
        const path = `${base}?watch=1&allowWatchBookmarks=true&resourceVersion=${rv}`;
        const accept = options.metadataOnly ? METADATA_ACCEPT : undefined;
        const stream = await this.http.stream(path, accept, (chunk) => {
          pending += chunk.toString();
          let nl = pending.indexOf("\n");
          while (nl >= 0) {
            if (nl > 0) options.onEvent(pending.slice(0, nl));
            pending = pending.slice(nl + 1);
            nl = pending.indexOf("\n");
          }
        });
        streams.push(stream);
      }
    } catch (err) {
      handle.close();
      throw err;
    }
    return handle;
  }

  async close(): Promise<void> {
    this.http.close();
  }
}
