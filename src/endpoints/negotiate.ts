import { notAcceptable } from "../apimachinery/status.js";

/**
 * Content negotiation (k8s.io/apiserver pkg/endpoints/handlers/negotiation): which shape the client
 * wants — the object itself, a Table, or PartialObjectMetadata — and in which encoding.
 */
export type Shape = "object" | "table" | "metadata";
export type Encoding = "json" | "yaml";

export interface Negotiated {
  shape: Shape;
  encoding: Encoding;
  /** meta.k8s.io version for Table/PartialObjectMetadata responses. */
  metaVersion: "v1" | "v1beta1";
}

interface MediaRange {
  type: string;
  params: Record<string, string>;
}

export function parseAccept(header: string | undefined): MediaRange[] {
  if (!header) return [];
  return header.split(",").map((part) => {
    const [type, ...rest] = part.split(";");
    const params: Record<string, string> = {};
    for (const p of rest) {
      const eq = p.indexOf("=");
      if (eq > 0)
        params[p.slice(0, eq).trim().toLowerCase()] = p
          .slice(eq + 1)
          .trim()
          .replace(/^"|"$/g, "");
    }
    return { type: type.trim().toLowerCase(), params };
  });
}

const JSON_TYPES = new Set(["application/json", "*/*", "application/*", "application/json;stream=watch"]);
const YAML_TYPES = new Set(["application/yaml"]);

/** `target` says what the endpoint returns: one object, a list, or a watch stream. */
export function negotiate(header: string | undefined, target: "single" | "list" | "watch"): Negotiated {
  const ranges = parseAccept(header);
  if (ranges.length === 0) return { shape: "object", encoding: "json", metaVersion: "v1" };
  for (const r of ranges) {
    const encoding: Encoding | undefined = JSON_TYPES.has(r.type)
      ? "json"
      : YAML_TYPES.has(r.type)
        ? "yaml"
        : undefined;
    if (!encoding) continue;
    const as = r.params.as;
    if (!as) return { shape: "object", encoding, metaVersion: "v1" };
    if (r.params.g !== "meta.k8s.io" || (r.params.v !== "v1" && r.params.v !== "v1beta1")) continue;
    const metaVersion = r.params.v;
    if (as === "Table") return { shape: "table", encoding, metaVersion };
    const wanted = target === "list" ? "PartialObjectMetadataList" : "PartialObjectMetadata";
    if (as === wanted) return { shape: "metadata", encoding, metaVersion };
  }
  throw notAcceptable(
    "only the following media types are accepted: application/json, application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io, application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io",
  );
}

export function contentType(n: Negotiated, target: "single" | "list" | "watch"): string {
  const base = n.encoding === "yaml" ? "application/yaml" : "application/json";
  if (target === "watch" || n.shape === "object") return base;
  const as =
    n.shape === "table" ? "Table" : target === "list" ? "PartialObjectMetadataList" : "PartialObjectMetadata";
  return `${base};as=${as};g=meta.k8s.io;v=${n.metaVersion}`;
}
