import type { KubeObject } from "../apimachinery/types.js";
import { isPlainObject } from "../apimachinery/types.js";

/**
 * The APIService objects this server keeps (pure code): one per served group-version, pointing at the
 * server's Service, trusting the serving CA. The label keeps kube-aggregator's CRD auto-registration
 * from taking the group back while the report CRDs exist.
 */

export interface GroupVersionRef {
  group: string;
  version: string;
}

export interface ServiceRef {
  namespace: string;
  name: string;
  port: number;
}

export interface APIServiceSettings {
  service: ServiceRef;
  /** PEM of the CA that signs the serving certificate (base64-encoded into caBundle). */
  caBundlePem?: string;
  /** Only when explicitly asked: the aggregator then does not verify the server. */
  insecureSkipTLSVerify?: boolean;
  /**
   * 1000 and 100 by default: what kube-apiserver's crdRegistrationController gives the APIService of a
   * CRD group, so discovery orders the groups (and kubectl resolves a resource name claimed by two
   * groups) as it did while CRDs served them. The Go reports-server uses 100/100.
   */
  groupPriorityMinimum?: number;
  versionPriority?: number;
}

export interface APIServiceSpec {
  group?: string;
  version?: string;
  service?: { namespace?: string; name?: string; port?: number } | null;
  caBundle?: string;
  insecureSkipTLSVerify?: boolean;
  groupPriorityMinimum?: number;
  versionPriority?: number;
}

export type APIService = KubeObject & { spec?: APIServiceSpec; status?: Record<string, unknown> };

export const AUTOMANAGED_LABEL = "kube-aggregator.kubernetes.io/automanaged";
export const APISERVICES_PATH = "/apis/apiregistration.k8s.io/v1/apiservices";

export function apiServiceName(gv: GroupVersionRef): string {
  return `${gv.version}.${gv.group}`;
}

export function desiredSpec(gv: GroupVersionRef, s: APIServiceSettings): APIServiceSpec {
  const spec: APIServiceSpec = {
    group: gv.group,
    version: gv.version,
    service: { namespace: s.service.namespace, name: s.service.name, port: s.service.port },
    groupPriorityMinimum: s.groupPriorityMinimum ?? 1000,
    versionPriority: s.versionPriority ?? 100,
  };
  // The API rejects caBundle together with insecureSkipTLSVerify.
  if (s.insecureSkipTLSVerify) spec.insecureSkipTLSVerify = true;
  else if (s.caBundlePem) spec.caBundle = Buffer.from(s.caBundlePem).toString("base64");
  return spec;
}

export function desiredAPIService(gv: GroupVersionRef, s: APIServiceSettings): APIService {
  return {
    apiVersion: "apiregistration.k8s.io/v1",
    kind: "APIService",
    metadata: { name: apiServiceName(gv), labels: { [AUTOMANAGED_LABEL]: "false" } },
    spec: desiredSpec(gv, s),
  };
}

/** What differs between an APIService and ours, by field name; empty when nothing needs changing. */
export function apiServiceDrift(current: APIService, desired: APIService): string[] {
  const c = current.spec ?? {};
  const d = desired.spec ?? {};
  const out: string[] = [];
  const same = (a: unknown, b: unknown) => (a ?? "") === (b ?? "");
  for (const k of ["group", "version", "caBundle", "groupPriorityMinimum", "versionPriority"] as const) {
    if (!same(c[k], d[k])) out.push(`spec.${k}`);
  }
  if (!!c.insecureSkipTLSVerify !== !!d.insecureSkipTLSVerify) out.push("spec.insecureSkipTLSVerify");
  const cs = isPlainObject(c.service) ? c.service : {};
  const ds = d.service ?? {};
  if (!same(cs.namespace, ds.namespace) || !same(cs.name, ds.name) || (cs.port ?? 443) !== (ds.port ?? 443)) {
    out.push("spec.service");
  }
  if (current.metadata.labels?.[AUTOMANAGED_LABEL] !== "false")
    out.push(`metadata.labels[${AUTOMANAGED_LABEL}]`);
  return out;
}

/** Ours applied over the current object: foreign labels, annotations and status are kept. */
export function mergeAPIService(current: APIService, desired: APIService): APIService {
  return {
    ...current,
    metadata: { ...current.metadata, labels: { ...current.metadata.labels, ...desired.metadata.labels } },
    spec: desired.spec,
  };
}

/** Does this APIService already send the group-version to our Service? */
export function pointsAt(current: APIService | undefined, service: ServiceRef): boolean {
  const s = current?.spec?.service;
  return !!s && s.namespace === service.namespace && s.name === service.name;
}

/**
 * The group-versions to register: every served one, or only the groups named in `serveGroups`
 * (--serve-groups; empty or undefined means all).
 */
export function servedGroupVersions(
  defs: { group: string; version: string }[],
  serveGroups?: string[],
): GroupVersionRef[] {
  const wanted = serveGroups && serveGroups.length > 0 ? new Set(serveGroups) : undefined;
  const seen = new Map<string, GroupVersionRef>();
  for (const d of defs) {
    if (wanted && !wanted.has(d.group)) continue;
    seen.set(`${d.version}.${d.group}`, { group: d.group, version: d.version });
  }
  return [...seen.values()];
}
