import { duplicateFieldsOf } from "../../registry/validation.js";
import type { MutationOptions } from "../../registry/options.js";
import type { RequestContext } from "../context.js";
import { decodeBodyReporting, mediaTypeOf, OBJECT_BODY_TYPES } from "./common.js";

/**
 * Decodes a create/update body and notes repeated fields, which decoding keeps only the last of:
 * field validation reports them (JSON as `duplicate field`, YAML as go-yaml's `already set in map`).
 */
export async function readMutationBody(ctx: RequestContext, o: MutationOptions): Promise<unknown> {
  const text = (await ctx.body()).toString("utf8");
  const mediaType = mediaTypeOf(ctx);
  const { value, yamlDuplicates } = decodeBodyReporting(text, mediaType, OBJECT_BODY_TYPES);
  if (o.fieldValidation !== "Ignore") {
    if (yamlDuplicates.length > 0) o.yamlDuplicates = yamlDuplicates;
    if (mediaType === "application/json") {
      const dups = duplicateFieldsOf(text, value);
      if (dups.length > 0) o.duplicates = dups;
    }
  }
  return value;
}
