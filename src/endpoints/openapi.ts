/**
 * OpenAPI documents (contract §2 A1–A5) as kube-apiserver publishes them for CRDs: the v3 index, one v3
 * document per group version (what `kubectl explain` and kubectl's field-validation check read), and a
 * Swagger 2.0 document that kube-aggregator merges. Built once at startup; each carries a hash for
 * `?hash=` URLs and ETags.
 */
import { createHash } from "node:crypto";
import type { JSONSchemaProps, ResourceDef } from "../resources/types.js";
import {
  API_VERSION_DESCRIPTION,
  KIND_DESCRIPTION,
  LIST_META,
  LIST_META_DESCRIPTION,
  metaSchemas,
  OBJECT_META,
  OBJECT_META_DESCRIPTION,
  type OpenAPIVersion,
  ref,
  refPath,
  type Schema,
  typeMeta,
} from "./openapi/meta-schemas.js";
import { definitionName, kindPaths } from "./openapi/paths.js";
import { encodeOpenAPIV2 } from "./openapi/protobuf-v2.js";

export { definitionName, PATCH_MEDIA_TYPES } from "./openapi/paths.js";
export {
  encodeOpenAPIV2,
  OPENAPI_V2_PROTOBUF,
  OPENAPI_V2_PROTOBUF_CONTENT_TYPE,
} from "./openapi/protobuf-v2.js";

const gvkExtension = (group: string, version: string, kind: string): Schema => ({
  "x-kubernetes-group-version-kind": [{ group, kind, version }],
});

/** Swagger 2.0 cannot say these; kube-apiserver strips them from what it publishes as v2. */
const V2_STRIPPED = [
  "nullable",
  "enum",
  "required",
  "pattern",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "minLength",
  "maxLength",
  "minItems",
  "maxItems",
  "uniqueItems",
  "multipleOf",
  "minProperties",
  "maxProperties",
  "allOf",
  "anyOf",
  "oneOf",
  "not",
];

function toV2(s: JSONSchemaProps): JSONSchemaProps {
  const out: JSONSchemaProps = {};
  for (const [k, val] of Object.entries(s)) {
    if (V2_STRIPPED.includes(k)) continue;
    if (k === "properties" && val && typeof val === "object") {
      out.properties = Object.fromEntries(
        Object.entries(val as Record<string, JSONSchemaProps>).map(([p, ps]) => [p, toV2(ps)]),
      );
    } else if ((k === "items" || k === "additionalProperties") && val && typeof val === "object") {
      out[k] = toV2(val as JSONSchemaProps);
    } else out[k] = val;
  }
  // An int-or-string has no single type in v2.
  if (s["x-kubernetes-int-or-string"]) delete out.type;
  return out;
}

/** The kind's schema: the CRD's, with apiVersion and kind from TypeMeta and metadata pointing at ObjectMeta. */
export function kindSchema(def: ResourceDef, v: OpenAPIVersion): Schema {
  const gvk = gvkExtension(def.group, def.version, def.kind);
  if (v === "v2" && def.schema["x-kubernetes-preserve-unknown-fields"]) return { type: "object", ...gvk };
  const base = structuredClone(v === "v2" ? toV2(def.schema) : def.schema) as Schema;
  const properties = { ...((base.properties as Record<string, Schema> | undefined) ?? {}) };
  Object.assign(properties, typeMeta());
  properties.metadata = ref(OBJECT_META, v, OBJECT_META_DESCRIPTION);
  return { ...base, type: base.type ?? "object", properties, ...gvk };
}

export function listSchema(def: ResourceDef, v: OpenAPIVersion): Schema {
  return {
    description: `${def.listKind} is a list of ${def.kind}`,
    type: "object",
    required: ["items"],
    properties: {
      apiVersion: { type: "string", description: API_VERSION_DESCRIPTION },
      items: {
        type: "array",
        items: { $ref: refPath(definitionName(def.group, def.version, def.kind), v) },
        description: `List of ${def.plural}. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md`,
      },
      kind: { type: "string", description: KIND_DESCRIPTION },
      metadata: ref(LIST_META, v, LIST_META_DESCRIPTION),
    },
    ...gvkExtension(def.group, def.version, def.listKind),
  };
}

function schemasFor(defs: ResourceDef[], v: OpenAPIVersion): Record<string, Schema> {
  const out: Record<string, Schema> = { ...metaSchemas(v) };
  for (const d of defs) {
    out[definitionName(d.group, d.version, d.kind)] = kindSchema(d, v);
    out[definitionName(d.group, d.version, d.listKind)] = listSchema(d, v);
  }
  return out;
}

function pathsFor(defs: ResourceDef[], v: OpenAPIVersion): Record<string, Schema> {
  return Object.assign({}, ...defs.map((d) => kindPaths(d, v))) as Record<string, Schema>;
}

const INFO = { title: "Kubernetes CRD Swagger", version: "v0.1.0" };

/** The v3 document of one group version, or undefined when we serve nothing there (404). */
export function openapiV3GroupVersion(
  resources: ResourceDef[],
  group: string,
  version: string,
): Record<string, unknown> | undefined {
  const defs = resources.filter((d) => d.group === group && d.version === version);
  if (defs.length === 0) return undefined;
  return {
    openapi: "3.0.0",
    info: INFO,
    paths: pathsFor(defs, "v3"),
    components: { schemas: schemasFor(defs, "v3") },
  };
}

/** Swagger 2.0 with every served kind, for kube-aggregator (JSON; kubectl itself reads v3). */
export function openapiV2(resources: ResourceDef[]): Record<string, unknown> {
  return {
    swagger: "2.0",
    info: INFO,
    paths: pathsFor(resources, "v2"),
    definitions: schemasFor(resources, "v2"),
  };
}

/** `fmt.Sprintf("%X", sha512.Sum512(spec))`, as kube-apiserver hashes v3 documents for `?hash=`. */
export function openapiHash(body: string): string {
  return createHash("sha512").update(body).digest("hex").toUpperCase();
}

/** `apis/<group>/<version>` for each served group version, sorted. */
export function groupVersionPaths(resources: ResourceDef[]): string[] {
  return [...new Set(resources.map((d) => `apis/${d.group}/${d.version}`))].sort();
}

/** A v3 document's address pinned to its content, as kube-openapi's constructServerRelativeURL writes it. */
export function v3URL(groupVersionPath: string, hash: string): string {
  return `/openapi/v3/${groupVersionPath}?hash=${hash}`;
}

/** `GET /openapi/v3`: where each group version's document is, with the hash of its current content. */
export function openapiV3Index(resources: ResourceDef[]): {
  paths: Record<string, { serverRelativeURL: string }>;
} {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const p of groupVersionPaths(resources)) {
    const [, group, version] = p.split("/");
    const hash = openapiHash(JSON.stringify(openapiV3GroupVersion(resources, group, version)));
    paths[p] = { serverRelativeURL: v3URL(p, hash) };
  }
  return { paths };
}

export interface OpenAPIDocument {
  body: string;
  /** Uppercase sha512 hex of the body; the ETag is this hash in quotes. */
  hash: string;
  etag: string;
}

function doc(value: unknown): OpenAPIDocument {
  const body = JSON.stringify(value);
  const hash = openapiHash(body);
  return { body, hash, etag: `"${hash}"` };
}

export interface OpenAPIDocuments {
  /** `GET /openapi/v3`. */
  v3Index: OpenAPIDocument;
  /** `GET /openapi/v3/apis/<g>/<v>` keyed by `apis/<g>/<v>` (no leading slash). */
  v3: Map<string, OpenAPIDocument>;
  /** `GET /openapi/v2`. */
  v2: OpenAPIDocument;
  /**
   * `GET /openapi/v2` with `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`
   * (OPENAPI_V2_PROTOBUF, or its `.v1.0` spelling), which kubectl 1.27/1.28 ask for before create, apply
   * and explain. Answer with Content-Type OPENAPI_V2_PROTOBUF_CONTENT_TYPE.
   */
  v2Protobuf: { body: Buffer; etag: string };
}

/** Every OpenAPI document, serialized once at startup. Content-Type is application/json for all. */
export function buildOpenAPI(resources: ResourceDef[]): OpenAPIDocuments {
  const v3 = new Map<string, OpenAPIDocument>();
  const index: Record<string, { serverRelativeURL: string }> = {};
  for (const p of groupVersionPaths(resources)) {
    const [, group, version] = p.split("/");
    const d = doc(openapiV3GroupVersion(resources, group, version));
    v3.set(p, d);
    index[p] = { serverRelativeURL: v3URL(p, d.hash) };
  }
  const v2 = openapiV2(resources);
  const proto = encodeOpenAPIV2(v2);
  const protoEtag = `"${createHash("sha512").update(proto).digest("hex").toUpperCase()}"`;
  return { v3Index: doc({ paths: index }), v3, v2: doc(v2), v2Protobuf: { body: proto, etag: protoEtag } };
}
