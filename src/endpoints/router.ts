import { methodNotAllowed, notFound, StatusError } from "../apimachinery/status.js";
import type { Registry } from "../registry/store.js";
import type { ResourceDef } from "../resources/types.js";
import type { RequestContext } from "./context.js";
import { negotiateDiscovery, type DiscoveryDocuments, type ServedDocument } from "./discovery.js";
import { handleCreate } from "./handlers/create.js";
import { handleDelete, handleDeleteCollection } from "./handlers/delete.js";
import { handleGet } from "./handlers/get.js";
import { handleList } from "./handlers/list.js";
import { handlePatch } from "./handlers/patch.js";
import { handleUpdate } from "./handlers/update.js";
import type { ResourceScope } from "./handlers/common.js";
import { writeBody } from "./respond.js";
import { handleWatch, type WatchLimits } from "./watch.js";

export type Route = (ctx: RequestContext) => Promise<void>;

export interface RouterDeps {
  registries: Registry[];
  discovery: DiscoveryDocuments;
  /** Non-resource paths served beside the API (health, metrics, OpenAPI), by exact path or prefix ending in "/". */
  extra: Map<string, Route>;
  watch: WatchLimits;
  now: () => Date;
}

const NOT_FOUND = () =>
  new StatusError(404, "NotFound", "the server could not find the requested resource", {});

function sendDocument(ctx: RequestContext, doc: ServedDocument): void {
  ctx.res.setHeader("ETag", doc.etag);
  ctx.res.setHeader("Vary", "Accept");
  if (doc.cacheControl) ctx.res.setHeader("Cache-Control", doc.cacheControl);
  if (ctx.req.headers["if-none-match"] === doc.etag) {
    ctx.res.statusCode = 304;
    ctx.res.end();
    return;
  }
  writeBody(ctx, 200, doc.body, doc.contentType);
}

/** Maps a request to its handler: discovery documents, extra paths, then the resource verbs. */
export function createRouter(deps: RouterDeps): Route {
  const byPath = new Map<string, { registry: Registry; scope: ResourceScope }>();
  for (const registry of deps.registries) {
    const d: ResourceDef = registry.def;
    byPath.set(`${d.group}/${d.version}/${d.plural}`, { registry, scope: { registry, now: deps.now } });
  }
  const prefixes = [...deps.extra.keys()].filter((k) => k.endsWith("/"));

  return async (ctx) => {
    const { info, path } = ctx;
    if (!info.isResourceRequest) {
      const route = deps.extra.get(path) ?? deps.extra.get(path.replace(/\/$/, "")) ?? prefixRoute(path);
      if (route) return route(ctx);
      if (ctx.method !== "GET" && ctx.method !== "HEAD") throw NOT_FOUND();
      const accept = String(ctx.req.headers.accept ?? "");
      if (path === "/apis" || path === "/apis/")
        return sendDocument(ctx, deps.discovery.apis[negotiateDiscovery(accept) ?? "legacy"]);
      if (path === "/api" || path === "/api/")
        return sendDocument(ctx, deps.discovery.api[negotiateDiscovery(accept) ?? "legacy"]);
      if (path === "/version" || path === "/version/") return sendDocument(ctx, deps.discovery.version);
      const parts = path.split("/").filter(Boolean);
      if (parts[0] === "apis" && parts.length === 2) {
        const doc = deps.discovery.groups.get(parts[1]);
        if (doc) return sendDocument(ctx, doc);
      }
      if (parts[0] === "apis" && parts.length === 3) {
        const doc = deps.discovery.resourceLists.get(`${parts[1]}/${parts[2]}`);
        if (doc) return sendDocument(ctx, doc);
      }
      throw NOT_FOUND();
    }
    const entry = byPath.get(`${info.apiGroup}/${info.apiVersion}/${info.resource}`);
    if (!entry || info.subresource) throw NOT_FOUND();
    const { registry, scope } = entry;
    if (info.namespace && !registry.def.namespaced) throw NOT_FOUND();
    ctx.log.resource = info.resource;
    switch (info.verb) {
      case "get":
        return handleGet(ctx, scope);
      case "list":
        return handleList(ctx, scope);
      case "watch":
        return handleWatch(ctx, scope, deps.watch);
      case "create":
        if (info.name) throw methodNotAllowed(`POST is not allowed on a named ${registry.def.kind}`);
        if (registry.def.namespaced && !info.namespace) {
          throw notFound({ group: "", resource: "namespaces" }, "");
        }
        return handleCreate(ctx, scope);
      case "update":
        return handleUpdate(ctx, scope);
      case "patch":
        return handlePatch(ctx, scope);
      case "delete":
        return handleDelete(ctx, scope);
      case "deletecollection":
        return handleDeleteCollection(ctx, scope);
      default:
        throw methodNotAllowed(`the server does not allow this method on the requested resource`);
    }
  };

  function prefixRoute(path: string): Route | undefined {
    for (const p of prefixes) if (path.startsWith(p)) return deps.extra.get(p);
    return undefined;
  }
}
