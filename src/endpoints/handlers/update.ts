import { parseMutationOptions } from "../../registry/options.js";
import type { RequestContext } from "../context.js";
import { negotiate } from "../negotiate.js";
import { respondObject, type ResourceScope } from "./common.js";
import { readMutationBody } from "./mutation-body.js";

export async function handleUpdate(ctx: RequestContext, scope: ResourceScope): Promise<void> {
  const n = negotiate(String(ctx.req.headers.accept ?? ""), "single");
  const o = parseMutationOptions(ctx.query, ctx.req.headers["user-agent"], "UpdateOptions");
  const body = await readMutationBody(ctx, o);
  const res = await scope.registry.update(ctx.info.namespace, ctx.info.name, body, o);
  ctx.warnings.push(...res.warnings);
  respondObject(ctx, scope, res.created ? 201 : 200, res.object, n);
}
