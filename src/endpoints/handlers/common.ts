import { badRequest, StatusError } from "../../apimachinery/status.js";
import { jsonNestsDeeperThan, MAX_JSON_DEPTH } from "../../apimachinery/json-depth.js";
import { parseYamlBody } from "../../apimachinery/yaml.js";
import { duplicateFieldsOf } from "../../registry/validation.js";
import { setOwn, type KubeObject } from "../../apimachinery/types.js";
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

/** The body's media type; none (or an empty header) is JSON, as kube-apiserver reads it. */
export function mediaTypeOf(ctx: RequestContext): string {
  const type = String(ctx.req.headers["content-type"] ?? "")
    .split(";")[0]
    .trim()
    .toLowerCase();
  return type || "application/json";
}

/** What an object's body may be (create, update, DeleteOptions); a patch's types are the patch's own. */
export const OBJECT_BODY_TYPES: ReadonlySet<string> = new Set(["application/json", "application/yaml"]);
const PATCH_BODY_TYPES: ReadonlySet<string> = new Set([
  "application/json-patch+json",
  "application/merge-patch+json",
  "application/apply-patch+yaml",
]);

/** Decodes a JSON or YAML object body; anything unparsable is a 400 naming the problem. */
export function decodeBody(raw: Buffer | string, mediaType: string): unknown {
  return decodeBodyReporting(raw, mediaType, OBJECT_BODY_TYPES).value;
}

/**
 * decodeBody, also telling the keys a YAML body repeats (the last one is kept): field validation
 * reports them as the real server's strict YAML decoder does. JSON's repeats are found apart
 * (findDuplicateFields), as JSON.parse cannot tell.
 */
export function decodeBodyReporting(
  raw: Buffer | string,
  mediaType: string,
  accepted: ReadonlySet<string> = PATCH_BODY_TYPES,
): { value: unknown; yamlDuplicates: string[] } {
  // Protobuf, CBOR and the rest get a 415, on which client-go falls back to JSON; so does a patch's
  // type on a create or update, and an object's type on a patch.
  if (!accepted.has(mediaType)) {
    throw new StatusError(
      415,
      "UnsupportedMediaType",
      `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml`,
    );
  }
  const text = typeof raw === "string" ? raw : raw.toString("utf8");
  if (text.trim() === "") throw badRequest("the request body is empty");
  const decoded = decodeText(text, mediaType);
  // A `\ud800` escape without its pair decodes to a lone surrogate, which Go's decoder turns into
  // U+FFFD: so does this one, and no such string is ever stored (nor breaks a database's JSON).
  // YAML has more ways to write one (`\U0000D800`), so its values are always made well-formed.
  // (includes() first: it is thirty times faster than the regular expression on a report)
  const escaped = decoded.yaml || (text.includes("\\u") && LONE_SURROGATE_ESCAPE.test(text));
  const value = escaped ? wellFormed(decoded.value) : decoded.value;
  return { value, yamlDuplicates: decoded.yamlDuplicates };
}

const LONE_SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

function wellFormed(v: unknown): unknown {
  if (typeof v === "string") return v.toWellFormed();
  if (Array.isArray(v)) return v.map(wellFormed);
  if (v === null || typeof v !== "object") return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) setOwn(out, k.toWellFormed(), wellFormed(x));
  return out;
}

function decodeText(
  text: string,
  mediaType: string,
): { value: unknown; yamlDuplicates: string[]; yaml?: boolean } {
  try {
    if (mediaType === "application/yaml" || mediaType === "application/apply-patch+yaml") {
      // JSON is YAML, and JSON is what kubectl's server-side apply sends: read as JSON it gives the
      // same values at a fraction of the YAML parser's time and memory. Repeated keys still go
      // through the YAML parser, which names them as go-yaml does.
      const json = asJson(text);
      // the depth first: the duplicate check walks the value
      if (json !== undefined && jsonNestsDeeperThan(text))
        throw new Error(`json: exceeded max depth of ${MAX_JSON_DEPTH}`);
      if (json !== undefined && duplicateFieldsOf(text, json.value).length === 0) {
        return { value: json.value, yamlDuplicates: [] };
      }
      const { value, duplicateKeys } = parseYamlBody(text);
      return { value, yamlDuplicates: duplicateKeys, yaml: true };
    }
    const value = JSON.parse(text) as unknown;
    if (jsonNestsDeeperThan(text)) throw new Error(`json: exceeded max depth of ${MAX_JSON_DEPTH}`);
    return { value, yamlDuplicates: [] };
  } catch (err) {
    throw badRequest(
      `the request body could not be decoded: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/** The text's value when it is a JSON object or list. */
function asJson(text: string): { value: unknown } | undefined {
  const first = text.trimStart()[0];
  if (first !== "{" && first !== "[") return undefined;
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return undefined;
  }
}

/** ?includeObject, read (and checked) only when the answer is a Table, as kube-apiserver does. */
export function includeObjectOf(ctx: RequestContext, n: Negotiated): IncludeObject {
  if (n.shape !== "table") return "Metadata";
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
  const body = shapeObject(scope.registry.def, obj, n, includeObjectOf(ctx, n), scope.now());
  writeObject(ctx, code, body, n.encoding, contentType(n, "single"));
}
