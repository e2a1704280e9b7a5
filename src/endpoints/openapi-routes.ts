import { notAcceptable } from "../apimachinery/status.js";
import type { RequestContext } from "./context.js";
import { parseAccept } from "./negotiate.js";
import { OPENAPI_V2_PROTOBUF_CONTENT_TYPE, type OpenAPIDocument, type OpenAPIDocuments } from "./openapi.js";
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

/** kubectl 1.27/1.28 ask for v2 in gnostic protobuf only; JSON bytes there break their create and apply. */
function v2Encoding(ctx: RequestContext): "protobuf" | "json" | undefined {
  const ranges = parseAccept(String(ctx.req.headers.accept ?? ""));
  if (ranges.length === 0) return "json";
  for (const r of ranges) {
    if (r.type.startsWith("application/com.github.proto-openapi.spec.v2")) return "protobuf";
    if (["application/json", "*/*", "application/*"].includes(r.type)) return "json";
  }
  return undefined;
}

export function openapiRoutes(docs: OpenAPIDocuments): Map<string, Route> {
  const routes = new Map<string, Route>();
  routes.set("/openapi/v2", async (ctx) => {
    const enc = v2Encoding(ctx);
    if (!enc) throw notAcceptable("only application/json and protobuf are served for /openapi/v2");
    if (enc === "json") return send(ctx, docs.v2, false);
    ctx.res.setHeader("ETag", docs.v2Protobuf.etag);
    ctx.res.setHeader("Vary", "Accept");
    if (ctx.req.headers["if-none-match"] === docs.v2Protobuf.etag) {
      ctx.res.statusCode = 304;
      ctx.res.end();
      return;
    }
    writeBody(ctx, 200, docs.v2Protobuf.body, OPENAPI_V2_PROTOBUF_CONTENT_TYPE);
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
