import type { RequestInfo } from "../../endpoints/requestinfo.js";
import type { ResourceDef } from "../../resources/types.js";

/**
 * Label values for API request metrics, as k8s.io/apiserver's endpoints/metrics package reports them,
 * so dashboards built for kube-apiserver and other aggregated API servers read ours unchanged.
 */

const VERBS: Record<string, string> = {
  get: "GET",
  list: "LIST",
  watch: "WATCH",
  create: "POST",
  update: "PUT",
  patch: "PATCH",
  delete: "DELETE",
  deletecollection: "DELETECOLLECTION",
};

/** kube-apiserver's CleanVerb: LIST and WATCH apart from GET, APPLY apart from PATCH. */
export function reportedVerb(info: RequestInfo, contentType: string | undefined): string {
  if (!info.isResourceRequest) return KNOWN_METHODS.has(info.verb) ? info.verb.toUpperCase() : "OTHER";
  if (info.verb === "patch" && contentType?.startsWith("application/apply-patch")) return "APPLY";
  // CanonicalVerb: a GET whose scope is one object is a GET, even a list that selects it by name
  if (info.verb === "list" && info.authzName) return "GET";
  return VERBS[info.verb] ?? "OTHER";
}

const KNOWN_METHODS = new Set(["get", "head", "post", "put", "patch", "delete", "options"]);

/** kube-apiserver's CleanScope: one object (a create too), one namespace, or the whole cluster. */
export function requestScope(info: RequestInfo): "resource" | "namespace" | "cluster" | "" {
  if (!info.isResourceRequest) return "";
  if (info.authzName || info.verb === "create") return "resource";
  if (info.namespace) return "namespace";
  return "cluster";
}

export interface ResourceLabels {
  group: string;
  version: string;
  resource: string;
}

const NONE: ResourceLabels = { group: "", version: "", resource: "" };

/**
 * Only served kinds become label values: a client asking for made-up paths must not create a series
 * per path (unbounded cardinality); those requests count under empty group/version/resource.
 */
export class ServedResources {
  private readonly byPath = new Map<string, ResourceLabels>();

  constructor(defs: readonly ResourceDef[]) {
    for (const d of defs)
      this.byPath.set(`${d.group}/${d.version}/${d.plural}`, {
        group: d.group,
        version: d.version,
        resource: d.plural,
      });
  }

  labels(info: RequestInfo): ResourceLabels {
    if (!info.isResourceRequest) return NONE;
    return this.byPath.get(`${info.apiGroup}/${info.apiVersion}/${info.resource}`) ?? NONE;
  }
}
