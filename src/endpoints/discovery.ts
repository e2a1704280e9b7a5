/**
 * Discovery documents (contract §1 D1–D5), built once at startup from the served kinds: the legacy
 * `/apis`, `/apis/<g>`, `/apis/<g>/<v>` documents, aggregated discovery (apidiscovery.k8s.io v2 and
 * v2beta1) for `/apis` and `/api`, and `/version`. Each document comes with its body and ETag.
 */
import { createHash } from "node:crypto";
import type { ResourceDef } from "../resources/types.js";

/** The verbs the real server lists for a custom resource without subresources, in its order. */
export const CRD_VERBS = ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"];

export type DiscoveryFormat = "v2" | "v2beta1" | "legacy";

/** client-go picks the decoder from these response Content-Types, not from the body. */
export const DISCOVERY_CONTENT_TYPES: Record<DiscoveryFormat, string> = {
  v2: "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
  v2beta1: "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList",
  legacy: "application/json",
};

/**
 * Picks the discovery form from an Accept header: the first acceptable entry wins (kubectl lists v2,
 * then v2beta1, then plain JSON). Undefined means nothing we serve is acceptable (406).
 */
export function negotiateDiscovery(accept: string | undefined): DiscoveryFormat | undefined {
  if (!accept || !accept.trim()) return "legacy";
  for (const entry of accept.split(",")) {
    const [type, ...rest] = entry.split(";").map((s) => s.trim());
    const params = new Map(
      rest.map((p) => {
        const i = p.indexOf("=");
        return [p.slice(0, i).trim(), p.slice(i + 1).trim()] as [string, string];
      }),
    );
    if (params.get("q") === "0") continue;
    const json = type === "application/json" || type === "application/*" || type === "*/*";
    if (!json) continue;
    const g = params.get("g");
    if (g === undefined && params.get("as") === undefined) return "legacy";
    if (g === "apidiscovery.k8s.io" && params.get("as") === "APIGroupDiscoveryList") {
      const v = params.get("v");
      if (v === "v2" || v === "v2beta1") return v;
    }
  }
  return undefined;
}

/**
 * Kubernetes version order: GA before beta before alpha, higher numbers first, then anything else
 * alphabetically (k8s.io/apimachinery/pkg/version CompareKubeAwareVersionStrings).
 */
export function compareKubeVersions(a: string, b: string): number {
  const parse = (v: string): [number, number, number] | undefined => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return undefined;
    const stage = m[2] === "alpha" ? 0 : m[2] === "beta" ? 1 : 2;
    return [stage, Number(m[1]), m[3] ? Number(m[3]) : 0];
  };
  const pa = parse(a);
  const pb = parse(b);
  if (pa && pb) {
    for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pb[i] - pa[i];
    return 0;
  }
  if (pa) return -1;
  if (pb) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function groupsOf(resources: ResourceDef[]): Map<string, Map<string, ResourceDef[]>> {
  const groups = new Map<string, Map<string, ResourceDef[]>>();
  for (const d of [...resources].sort((a, b) => a.group.localeCompare(b.group))) {
    const versions = groups.get(d.group) ?? new Map<string, ResourceDef[]>();
    versions.set(d.version, [...(versions.get(d.version) ?? []), d]);
    groups.set(d.group, versions);
  }
  for (const [g, versions] of groups) {
    groups.set(g, new Map([...versions].sort(([a], [b]) => compareKubeVersions(a, b))));
  }
  return groups;
}

/** `discovery.StorageVersionHash`: base64 of the first 8 bytes of sha256("group/version/kind"). */
export function storageVersionHash(group: string, version: string, kind: string): string {
  return createHash("sha256")
    .update(`${group}/${version}/${kind}`)
    .digest()
    .subarray(0, 8)
    .toString("base64");
}

interface GroupVersionForDiscovery {
  groupVersion: string;
  version: string;
}

export interface APIGroup {
  kind?: "APIGroup";
  apiVersion?: "v1";
  name: string;
  versions: GroupVersionForDiscovery[];
  preferredVersion: GroupVersionForDiscovery;
}

function group(name: string, versions: string[]): APIGroup {
  const gvs = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions: gvs, preferredVersion: gvs[0] };
}

/** `/apis` in the legacy form. */
export function apiGroupList(resources: ResourceDef[]): Record<string, unknown> {
  const groups = [...groupsOf(resources)].map(([name, versions]) => group(name, [...versions.keys()]));
  return { kind: "APIGroupList", apiVersion: "v1", groups };
}

/** `/apis/<group>`, or undefined for a group we do not serve (404). */
export function apiGroup(resources: ResourceDef[], name: string): APIGroup | undefined {
  const versions = groupsOf(resources).get(name);
  if (!versions) return undefined;
  return { kind: "APIGroup", apiVersion: "v1", ...group(name, [...versions.keys()]) };
}

/** `/apis/<group>/<version>`, or undefined for a group version we do not serve (404). */
export function apiResourceList(
  resources: ResourceDef[],
  groupName: string,
  version: string,
): Record<string, unknown> | undefined {
  const defs = groupsOf(resources).get(groupName)?.get(version);
  if (!defs) return undefined;
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: `${groupName}/${version}`,
    resources: defs.map((d) => {
      const r: Record<string, unknown> = {
        name: d.plural,
        singularName: d.singular,
        namespaced: d.namespaced,
        kind: d.kind,
        verbs: CRD_VERBS,
      };
      if (d.shortNames.length) r.shortNames = d.shortNames;
      if (d.categories.length) r.categories = d.categories;
      r.storageVersionHash = storageVersionHash(d.group, d.version, d.kind);
      return r;
    }),
  };
}

/** The aggregated form of `/apis` (APIGroupDiscoveryList). */
export function aggregatedDiscovery(
  resources: ResourceDef[],
  version: "v2" | "v2beta1",
): Record<string, unknown> {
  const items = [...groupsOf(resources)].map(([name, versions]) => ({
    metadata: { name },
    versions: [...versions].map(([v, defs]) => ({
      version: v,
      resources: defs.map((d) => {
        const r: Record<string, unknown> = {
          resource: d.plural,
          responseKind: { group: d.group, version: d.version, kind: d.kind },
          scope: d.namespaced ? "Namespaced" : "Cluster",
          singularResource: d.singular,
          verbs: CRD_VERBS,
        };
        if (d.shortNames.length) r.shortNames = d.shortNames;
        if (d.categories.length) r.categories = d.categories;
        return r;
      }),
      freshness: "Current",
    })),
  }));
  return { kind: "APIGroupDiscoveryList", apiVersion: `apidiscovery.k8s.io/${version}`, metadata: {}, items };
}

/**
 * `/api` (the core group, which we do not serve). It must come in the same form as `/apis`: when
 * `/api` answers legacy and `/apis` aggregated, client-go drops the aggregated resources.
 */
export function legacyAPIDiscovery(format: DiscoveryFormat): Record<string, unknown> {
  if (format === "legacy") return { kind: "APIVersions", versions: [], serverAddressByClientCIDRs: [] };
  return {
    kind: "APIGroupDiscoveryList",
    apiVersion: `apidiscovery.k8s.io/${format}`,
    metadata: {},
    items: [],
  };
}

export interface VersionOptions {
  /** What `/version` claims; the kubectl dispatcher picks its binary from it. */
  gitVersion?: string;
  gitCommit?: string;
  buildDate?: string;
}

export const DEFAULT_GIT_VERSION = "v1.33.0";

/** `/version` (version.Info). major and minor follow gitVersion, as clients compare either. */
export function versionInfo(opts: VersionOptions = {}): Record<string, string> {
  const gitVersion = opts.gitVersion ?? DEFAULT_GIT_VERSION;
  const m = /^v(\d+)\.(\d+)/.exec(gitVersion);
  const arch = process.arch === "x64" ? "amd64" : process.arch;
  return {
    major: m ? m[1] : "",
    minor: m ? m[2] : "",
    gitVersion,
    gitCommit: opts.gitCommit ?? "",
    gitTreeState: "clean",
    buildDate: opts.buildDate ?? "1970-01-01T00:00:00Z",
    goVersion: `node${process.versions.node}`,
    compiler: "node",
    platform: `${process.platform}/${arch}`,
  };
}

/** A document ready to send: its body, the Content-Type it must carry and an ETag for If-None-Match. */
export interface ServedDocument {
  body: string;
  contentType: string;
  etag: string;
  /** Replaces the server's `no-cache, private`: aggregated discovery is `public`, as ServeHTTPWithETag marks it. */
  cacheControl?: string;
}

/** A strong ETag over the bytes of a body (the aggregator polls `/apis` with If-None-Match). */
export function etagOf(body: string): string {
  return `"${createHash("sha256").update(body).digest("hex")}"`;
}

export function served(doc: unknown, contentType = "application/json"): ServedDocument {
  const body = JSON.stringify(doc);
  return { body, contentType, etag: etagOf(body) };
}

export interface DiscoveryDocuments {
  /** `/apis` in each form. */
  apis: Record<DiscoveryFormat, ServedDocument>;
  /** `/api` in each form. */
  api: Record<DiscoveryFormat, ServedDocument>;
  /** `/apis/<group>` by group name. */
  groups: Map<string, ServedDocument>;
  /** `/apis/<group>/<version>` by `group/version`. */
  resourceLists: Map<string, ServedDocument>;
  version: ServedDocument;
}

/** Every discovery document, serialized once at startup. */
export function buildDiscovery(
  resources: ResourceDef[],
  versionOpts: VersionOptions = {},
): DiscoveryDocuments {
  const ct = DISCOVERY_CONTENT_TYPES;
  const groups = new Map<string, ServedDocument>();
  const resourceLists = new Map<string, ServedDocument>();
  for (const [name, versions] of groupsOf(resources)) {
    groups.set(name, served(apiGroup(resources, name)));
    for (const v of versions.keys())
      resourceLists.set(`${name}/${v}`, served(apiResourceList(resources, name, v)));
  }
  const aggregated = (doc: unknown, contentType: string): ServedDocument => ({
    ...served(doc, contentType),
    cacheControl: "public",
  });
  return {
    apis: {
      v2: aggregated(aggregatedDiscovery(resources, "v2"), ct.v2),
      v2beta1: aggregated(aggregatedDiscovery(resources, "v2beta1"), ct.v2beta1),
      legacy: served(apiGroupList(resources)),
    },
    api: {
      v2: aggregated(legacyAPIDiscovery("v2"), ct.v2),
      v2beta1: aggregated(legacyAPIDiscovery("v2beta1"), ct.v2beta1),
      legacy: served(legacyAPIDiscovery("legacy")),
    },
    groups,
    resourceLists,
    version: served(versionInfo(versionOpts)),
  };
}
