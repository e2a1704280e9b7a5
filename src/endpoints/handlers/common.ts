import { parse as parseYaml } from "yaml";
import { badRequest } from "../../apimachinery/status.js";
import type { KubeObject } from "../../apimachinery/types.js";
import { parseIncludeObject } from "../../registry/table.js";
import type { Registry } from "../../registry/store.js";
import type { RequestContext } from "../context.js";
import { contentType, negotiate, type Negotiated } from "../negotiate.js";
import type { IncludeObject } from "../output.js";
import { shapeObject } from "../output.js";
import { writeObject } from "../respond.js";

/** What every resource handler needs: the kind's registry and the request. */
export interface ResourceScope {
  registry: Registry;
  now: () => Date;
}

export function mediaTypeOf(ctx: RequestContext): string {
  return String(ctx.req.headers["content-type"] ?? "application/json")
    .split(";")[0]
    .trim()
    .toLowerCase();
}

/** Decodes a JSON or YAML body; anything unparsable is a 400 naming the problem. */
export function decodeBody(raw: Buffer, mediaType: string): unknown {
  const text = raw.toString("utf8");
  if (text.trim() === "") throw badRequest("the request body is empty");
  try {
    if (mediaType === "application/yaml" || mediaType === "application/apply-patch+yaml")
      return parseYaml(text);
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(
      `the request body could not be decoded: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

export function includeObjectOf(ctx: RequestContext): IncludeObject {
  return parseIncludeObject(ctx.query.get("includeObject") ?? undefined);
}

/** Answers a single object in the shape the client negotiated. */
export function respondObject(
  ctx: RequestContext,
  scope: ResourceScope,
  code: number,
  obj: KubeObject,
  n: Negotiated = negotiate(String(ctx.req.headers.accept ?? ""), "single"),
): void {
  const body = shapeObject(scope.registry.def, obj, n, includeObjectOf(ctx), scope.now());
  writeObject(ctx, code, body, n.encoding, contentType(n, "single"));
}
