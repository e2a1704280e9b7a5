import { parseMutationOptions } from "../../registry/options.js";
import type { RequestContext } from "../context.js";
import { negotiate } from "../negotiate.js";
import { respondObject, type ResourceScope } from "./common.js";
import { readMutationBody } from "./mutation-body.js";

export async function handleCreate(ctx: RequestContext, scope: ResourceScope): Promise<void> {
  const n = negotiate(String(ctx.req.headers.accept ?? ""), "single");
  const o = parseMutationOptions(ctx.query, ctx.req.headers["user-agent"], "CreateOptions");
  const body = await readMutationBody(ctx, o);
  const res = await scope.registry.create(ctx.info.namespace, body, o);
  ctx.warnings.push(...res.warnings);
  respondObject(ctx, scope, 201, res.object, n);
}
