import { notAcceptable } from "../apimachinery/status.js";
import type { RequestContext } from "./context.js";
import { parseAccept } from "./negotiate.js";
import {
  OPENAPI_V2_PROTOBUF_CONTENT_TYPE,
  v3URL,
  type OpenAPIDocument,
  type OpenAPIDocuments,
} from "./openapi.js";
import { writeBody } from "./respond.js";
import type { Route } from "./router.js";

function send(ctx: RequestContext, doc: OpenAPIDocument): void {
  ctx.res.setHeader("ETag", doc.etag);
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

export function openapiRoutes(
  docs: OpenAPIDocuments,
  now: () => Date = () => new Date(),
): Map<string, Route> {
  const routes = new Map<string, Route>();
  routes.set("/openapi/v2", async (ctx) => {
    const enc = v2Encoding(ctx);
    if (!enc) throw notAcceptable("only application/json and protobuf are served for /openapi/v2");
    if (enc === "json") return send(ctx, docs.v2);
    ctx.res.setHeader("ETag", docs.v2Protobuf.etag);
    ctx.res.setHeader("Vary", "Accept");
    if (ctx.req.headers["if-none-match"] === docs.v2Protobuf.etag) {
      ctx.res.statusCode = 304;
      ctx.res.end();
      return;
    }
    writeBody(ctx, 200, docs.v2Protobuf.body, OPENAPI_V2_PROTOBUF_CONTENT_TYPE);
  });
  routes.set("/openapi/v3", async (ctx) => send(ctx, docs.v3Index));
  routes.set("/openapi/v3/", async (ctx) => {
    const gv = ctx.path.slice("/openapi/v3/".length);
    const doc = docs.v3.get(gv);
    if (!doc) {
      ctx.res.statusCode = 404;
      ctx.res.end("404 page not found\n");
      return;
    }
    // What comes back depends on Accept (JSON or protobuf), whatever the hash.
    ctx.res.setHeader("Vary", "Accept");
    const hash = ctx.query.get("hash");
    if (hash && hash !== doc.hash) return redirectToCurrent(ctx, gv, doc);
    if (hash) {
      // A document addressed by its hash never changes: cacheable by anyone for a year.
      ctx.res.setHeader("Cache-Control", "public, immutable");
      ctx.res.setHeader("Expires", goRFC1123(oneYearAfter(now())));
    }
    send(ctx, doc);
  });
  return routes;
}

/**
 * A stale `?hash=` (a client's cached index from before an upgrade) is sent on to the current one,
 * as kube-openapi's handler3 does: http.Redirect after Content-Type and ETag are set, so a 301 with
 * those headers, a Location and no body.
 */
function redirectToCurrent(ctx: RequestContext, gv: string, doc: OpenAPIDocument): void {
  ctx.res.setHeader("Content-Type", "application/json");
  ctx.res.setHeader("ETag", doc.etag);
  ctx.res.setHeader("Location", v3URL(gv, doc.hash));
  ctx.res.statusCode = 301;
  ctx.res.end();
}

/** time.Now().AddDate(1, 0, 0): the same day next year, 29 February becoming 1 March. */
export function oneYearAfter(t: Date): Date {
  const next = new Date(t);
  next.setUTCFullYear(next.getUTCFullYear() + 1);
  return next;
}

/** Go's t.Format(time.RFC1123) of a UTC time, the zone named `UTC` where HTTP dates say `GMT`. */
export function goRFC1123(t: Date): string {
  return t.toUTCString().replace(/GMT$/, "UTC");
}
