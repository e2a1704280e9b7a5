import { requiredFieldValue } from "../apimachinery/fields.js";
import { parseLabelSelector } from "../apimachinery/labels.js";

/**
 * What a request is about, from its method and path alone (k8s.io/apiserver pkg/endpoints/request
 * requestinfo.go). Authorization, limits, logs and routing all read this one value.
 */
export interface RequestInfo {
  isResourceRequest: boolean;
  path: string;
  /** get, list, watch, create, update, patch, delete, deletecollection; lower-case method otherwise. */
  verb: string;
  apiGroup: string;
  apiVersion: string;
  namespace: string;
  resource: string;
  subresource: string;
  /** The object named in the path; routing reads only this. */
  name: string;
  /**
   * kube-apiserver's requestInfo.Name: the path's name, or for a list or watch the one name its field
   * selector requires (`kubectl get polr x -w`), so that RBAC's resourceNames can allow watching one
   * object. Authorization, the 403 and metrics' scope read this.
   */
  authzName: string;
  /**
   * RequestInfo.FieldSelector and LabelSelector: the raw `fieldSelector` and `labelSelector` of a
   * list, watch or deletecollection (the verbs that honour them), for authorization to narrow by;
   * empty otherwise. Read straight from the query, so a selector is kept when other list options do
   * not decode; not for the deprecated /watch/ prefix, whose single-object form ignores selectors
   * (k8s.io/apiserver pkg/endpoints/request/requestinfo.go, verbsWithSelectors).
   */
  fieldSelector: string;
  labelSelector: string;
}

/** path.IsValidPathSegmentName: a name that could stand in a path as one segment. */
function isValidPathSegmentName(name: string): boolean {
  return name !== "." && name !== ".." && !name.includes("/") && !name.includes("%");
}

/**
 * Whether the list options decode (ParameterCodec.DecodeParameters): when they do not, kube-apiserver
 * reads no name from the field selector either.
 */
function listOptionsDecode(query: URLSearchParams): boolean {
  for (const p of ["limit", "timeoutSeconds"]) {
    const v = query.get(p);
    if (v !== null && !/^[+-]?\d+$/.test(v)) return false;
  }
  try {
    parseLabelSelector(query.get("labelSelector") ?? "");
    return true;
  } catch {
    return false;
  }
}

/** The verbs whose selectors authorization sees (requestinfo.go verbsWithSelectors). */
const SELECTOR_VERBS = new Set(["list", "watch", "deletecollection"]);

const MUTATING = new Set(["create", "update", "patch", "delete", "deletecollection"]);

export function isMutating(info: RequestInfo): boolean {
  return info.isResourceRequest ? MUTATING.has(info.verb) : !["get", "head", "options"].includes(info.verb);
}

function truthy(v: string | null): boolean {
  return v !== null && v !== "" && v !== "0" && v.toLowerCase() !== "false";
}

export function requestInfo(method: string, path: string, query: URLSearchParams): RequestInfo {
  const m = method.toUpperCase();
  const info: RequestInfo = {
    isResourceRequest: false,
    path,
    verb: m.toLowerCase(),
    apiGroup: "",
    apiVersion: "",
    namespace: "",
    resource: "",
    subresource: "",
    name: "",
    authzName: "",
    fieldSelector: "",
    labelSelector: "",
  };
  const parts = path.split("/").filter((p) => p !== "");
  // /apis/<group>/<version>/... or /api/<version>/...; shorter paths are discovery (non-resource).
  let rest: string[];
  if (parts[0] === "apis" && parts.length >= 4) {
    info.apiGroup = parts[1];
    info.apiVersion = parts[2];
    rest = parts.slice(3);
  } else if (parts[0] === "api" && parts.length >= 3) {
    info.apiVersion = parts[1];
    rest = parts.slice(2);
  } else {
    return info;
  }
  info.isResourceRequest = true;
  const verbs: Record<string, string> = {
    POST: "create",
    GET: "get",
    HEAD: "get",
    PUT: "update",
    PATCH: "patch",
    DELETE: "delete",
  };
  info.verb = verbs[m] ?? m.toLowerCase();
  // Deprecated /watch/ prefix: still served, as kube-apiserver does.
  const verbViaPathPrefix = rest[0] === "watch";
  if (verbViaPathPrefix) {
    info.verb = "watch";
    rest = rest.slice(1);
  }
  if (rest[0] === "namespaces") {
    if (rest.length > 1) {
      info.namespace = rest[1];
      // /namespaces/<ns> alone names the namespace object itself.
      rest = rest.length > 2 ? rest.slice(2) : ["namespaces", rest[1]];
      if (rest[0] === "namespaces") info.namespace = "";
    }
  }
  info.resource = rest[0] ?? "";
  if (rest.length >= 2) info.name = rest[1];
  if (rest.length >= 3) info.subresource = rest[2];
  if (rest.length > 3) info.subresource = rest.slice(2).join("/");

  info.authzName = info.name;
  if (info.name === "") {
    if (info.verb === "get") {
      info.verb = truthy(query.get("watch")) ? "watch" : "list";
      // the other options are decoded (a label selector parsed twice) only when a name is required
      const fs = query.get("fieldSelector");
      const named = fs ? requiredFieldValue(fs, "metadata.name") : undefined;
      if (named !== undefined && isValidPathSegmentName(named) && listOptionsDecode(query))
        info.authzName = named;
    } else if (info.verb === "delete") info.verb = "deletecollection";
  }
  // A named GET stays a get with ?watch=true too, as in requestinfo.go: one object is watched
  // through its collection (fieldSelector=metadata.name=...) or the deprecated /watch/ prefix.
  if (!verbViaPathPrefix && SELECTOR_VERBS.has(info.verb)) {
    info.fieldSelector = query.get("fieldSelector") ?? "";
    info.labelSelector = query.get("labelSelector") ?? "";
  }
  return info;
}
