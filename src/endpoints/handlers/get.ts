import type { RequestContext } from "../context.js";
import { negotiate } from "../negotiate.js";
import { respondObject, type ResourceScope } from "./common.js";

export async function handleGet(ctx: RequestContext, scope: ResourceScope): Promise<void> {
  const n = negotiate(String(ctx.req.headers.accept ?? ""), "single");
  const obj = await scope.registry.get(ctx.info.namespace, ctx.info.name);
  respondObject(ctx, scope, 200, obj, n);
}
