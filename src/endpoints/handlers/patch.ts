import { invalid, unsupportedMediaType } from "../../apimachinery/status.js";
import { parseMutationOptions } from "../../registry/options.js";
import { duplicateFieldsOf } from "../../registry/validation.js";
import type { PatchType } from "../../registry/store.js";
import type { RequestContext } from "../context.js";
import { negotiate } from "../negotiate.js";
import { decodeBodyReporting, mediaTypeOf, respondObject, type ResourceScope } from "./common.js";

// Strategic merge patch is absent on purpose: custom resources have no patch strategy, and a 415 is
// what makes the garbage collector fall back to a merge patch.
const PATCH_TYPES: Record<string, PatchType> = {
  "application/json-patch+json": "json",
  "application/merge-patch+json": "merge",
  "application/apply-patch+yaml": "apply",
};

export async function handlePatch(ctx: RequestContext, scope: ResourceScope): Promise<void> {
  const n = negotiate(String(ctx.req.headers.accept ?? ""), "single");
  const mediaType = mediaTypeOf(ctx);
  const type = PATCH_TYPES[mediaType];
  if (!type) throw unsupportedMediaType();
  const o = parseMutationOptions(ctx.query, ctx.req.headers["user-agent"], "PatchOptions");
  if (type !== "apply" && ctx.query.has("force")) {
    throw invalid("meta.k8s.io", "PatchOptions", "", [
      {
        reason: "FieldValueForbidden",
        field: "force",
        message: "Forbidden: may not be specified for non-apply patch",
      },
    ]);
  }
  const text = (await ctx.body()).toString("utf8");
  const { value: patch, yamlDuplicates } = decodeBodyReporting(text, mediaType);
  if (o.fieldValidation !== "Ignore") {
    if (yamlDuplicates.length > 0) o.yamlDuplicates = yamlDuplicates;
    // a merge patch's repeated keys are field problems of the result (jsonPatcher's strict read)
    if (type === "merge") {
      const dups = duplicateFieldsOf(text, patch);
      if (dups.length > 0) o.duplicates = dups;
    }
  }
  const res = await scope.registry.patch(ctx.info.namespace, ctx.info.name, type, patch, o);
  ctx.warnings.push(...res.warnings);
  respondObject(ctx, scope, res.created ? 201 : 200, res.object, n);
}
