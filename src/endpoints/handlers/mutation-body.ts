import { findDuplicateFields } from "../../registry/validation.js";
import type { MutationOptions } from "../../registry/options.js";
import type { RequestContext } from "../context.js";
import { decodeBody, mediaTypeOf } from "./common.js";

/** Decodes a create/update body and notes duplicate JSON fields, which JSON.parse would silently drop. */
export async function readMutationBody(ctx: RequestContext, o: MutationOptions): Promise<unknown> {
  const text = (await ctx.body()).toString("utf8");
  const mediaType = mediaTypeOf(ctx);
  const body = decodeBody(text, mediaType);
  if (o.fieldValidation !== "Ignore" && mediaType === "application/json") {
    const dups = findDuplicateFields(text);
    if (dups.length > 0) o.duplicates = dups;
  }
  return body;
}
