import { parseListParams } from "../../registry/options.js";
import type { RequestContext } from "../context.js";
import { negotiate } from "../negotiate.js";
import { writeList } from "../output.js";
import { includeObjectOf, type ResourceScope } from "./common.js";

export async function handleList(ctx: RequestContext, scope: ResourceScope): Promise<void> {
  const n = negotiate(String(ctx.req.headers.accept ?? ""), "list");
  const includeObject = includeObjectOf(ctx, n);
  const p = parseListParams(ctx.query, false, scope.registry.def.namespaced);
  const ns = ctx.info.namespace || undefined;
  const { registry } = scope;
  // plain JSON items need no decoding: backends that store JSON hand them over as text
  const encoded = n.shape === "object" && n.encoding === "json";
  const pages = p.limit
    ? (async function* () {
        yield await registry.list(ns, p, undefined, encoded);
      })()
    : registry.listAll(ns, p, encoded);
  await writeList(ctx, registry.def, pages, n, includeObject, scope.now(), !p.limit);
}
