import { parseResourceVersion } from "../../apimachinery/resourceversion.js";
import type { RequestContext } from "../context.js";
import { contentType, negotiate } from "../negotiate.js";
import { writeBody } from "../respond.js";
import { respondObject, type ResourceScope } from "./common.js";

export async function handleGet(ctx: RequestContext, scope: ResourceScope): Promise<void> {
  const n = negotiate(String(ctx.req.headers.accept ?? ""), "single");
  const rv = ctx.query.get("resourceVersion");
  if (rv) await scope.registry.requireResourceVersion(parseResourceVersion(rv));
  if (n.shape === "object" && n.encoding === "json") {
    // the common case (client-go, kubectl -o json): the stored JSON goes out as it is
    const json = await scope.registry.getEncoded(ctx.info.namespace, ctx.info.name);
    writeBody(ctx, 200, json, contentType(n, "single"));
    return;
  }
  const obj = await scope.registry.get(ctx.info.namespace, ctx.info.name);
  respondObject(ctx, scope, 200, obj, n);
}
