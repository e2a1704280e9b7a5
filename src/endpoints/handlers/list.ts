import { parseListParams } from "../../registry/options.js";
import type { RequestContext } from "../context.js";
import { negotiate } from "../negotiate.js";
import { writeList } from "../output.js";
import { includeObjectOf, type ResourceScope } from "./common.js";

export async function handleList(ctx: RequestContext, scope: ResourceScope): Promise<void> {
  const n = negotiate(String(ctx.req.headers.accept ?? ""), "list");
  const includeObject = includeObjectOf(ctx);
  const p = parseListParams(ctx.query, false, scope.registry.def.namespaced);
  const ns = ctx.info.namespace || undefined;
  const { registry } = scope;
  const pages = p.limit
    ? (async function* () {
        yield await registry.list(ns, p);
      })()
    : registry.listAll(ns, p);
  await writeList(ctx, registry.def, pages, n, includeObject, scope.now(), !p.limit);
}
