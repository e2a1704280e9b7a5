import { deletedStatus } from "../../apimachinery/status.js";
import { parseDeleteOptions, parseListParams } from "../../registry/options.js";
import type { RequestContext } from "../context.js";
import { contentType, negotiate } from "../negotiate.js";
import { writeList } from "../output.js";
import { writeObject } from "../respond.js";
import { decodeBody, includeObjectOf, mediaTypeOf, respondObject, type ResourceScope } from "./common.js";

async function deleteOptions(ctx: RequestContext) {
  const raw = await ctx.body();
  const body = raw.length > 0 && raw.toString().trim() !== "" ? decodeBody(raw, mediaTypeOf(ctx)) : undefined;
  return parseDeleteOptions(ctx.query, body);
}

/**
 * An object removed answers a Status naming it, as a custom resource's DELETE does; one that stays
 * (finalizers) answers itself, with 202 when the deprecated orphanDependents=false asked for it.
 */
export async function handleDelete(ctx: RequestContext, scope: ResourceScope): Promise<void> {
  const n = negotiate(String(ctx.req.headers.accept ?? ""), "single");
  const o = await deleteOptions(ctx);
  const res = await scope.registry.delete(ctx.info.namespace, ctx.info.name, o);
  if (!res.deleted) {
    respondObject(ctx, scope, o.orphanDependents === false ? 202 : 200, res.object, n);
    return;
  }
  const meta = res.object.metadata;
  const status = deletedStatus(scope.registry.gr, meta.name ?? ctx.info.name, meta.uid);
  writeObject(ctx, 200, status, n.encoding, contentType({ ...n, shape: "object" }, "single"));
}

/** The deleted items, as a list in the negotiated shape (a Table or metadata list when asked). */
export async function handleDeleteCollection(ctx: RequestContext, scope: ResourceScope): Promise<void> {
  const n = negotiate(String(ctx.req.headers.accept ?? ""), "list");
  const o = await deleteOptions(ctx);
  const p = parseListParams(ctx.query, false, scope.registry.def.namespaced);
  const page = await scope.registry.deleteCollection(ctx.info.namespace || undefined, p, o);
  const pages = (async function* () {
    yield page;
  })();
  await writeList(ctx, scope.registry.def, pages, n, includeObjectOf(ctx, n), scope.now(), false);
}
