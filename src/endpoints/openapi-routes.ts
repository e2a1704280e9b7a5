import { notAcceptable } from "../apimachinery/status.js";
import type { RequestContext } from "./context.js";
import { parseAccept } from "./negotiate.js";
import type { OpenAPIDocument, OpenAPIDocuments } from "./openapi.js";
import { writeBody } from "./respond.js";
import type { Route } from "./router.js";

function send(ctx: RequestContext, doc: OpenAPIDocument, immutable: boolean): void {
  ctx.res.setHeader("ETag", doc.etag);
  // A document addressed by its hash never changes (kube-apiserver marks it immutable too).
  ctx.res.setHeader("Cache-Control", immutable ? "public, immutable" : "no-cache, private");
  if (ctx.req.headers["if-none-match"] === doc.etag) {
    ctx.res.statusCode = 304;
    ctx.res.end();
    return;
  }
  writeBody(ctx, 200, doc.body, "application/json");
}

/** JSON only: a client that accepts nothing but protobuf (kubectl 1.27/1.28 for v2) gets a 406, not bytes it cannot parse. */
function acceptsJson(ctx: RequestContext): boolean {
  const ranges = parseAccept(String(ctx.req.headers.accept ?? ""));
  return (
    ranges.length === 0 || ranges.some((r) => ["application/json", "*/*", "application/*"].includes(r.type))
  );
}

export function openapiRoutes(docs: OpenAPIDocuments): Map<string, Route> {
  const routes = new Map<string, Route>();
  routes.set("/openapi/v2", async (ctx) => {
    if (!acceptsJson(ctx)) throw notAcceptable("only application/json is served for /openapi/v2");
    send(ctx, docs.v2, false);
  });
  routes.set("/openapi/v3", async (ctx) => send(ctx, docs.v3Index, false));
  routes.set("/openapi/v3/", async (ctx) => {
    const doc = docs.v3.get(ctx.path.slice("/openapi/v3/".length));
    if (!doc) {
      ctx.res.statusCode = 404;
      ctx.res.end("404 page not found\n");
      return;
    }
    send(ctx, doc, ctx.query.get("hash") === doc.hash);
  });
  return routes;
}
