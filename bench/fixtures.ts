import {
  CLUSTER_EPHEMERAL_REPORT,
  CLUSTER_POLICY_REPORT,
  EPHEMERAL_REPORT,
  POLICY_REPORT,
  type KindInfo,
  type Obj,
} from "../test/support/reports.js";

/**
 * Reports shaped as Kyverno writes them (shared/reference/kyverno-examples/): a PolicyReport per
 * resource named by the resource's UID, one result per matching rule, and
 * ephemeral reports with the audit.kyverno.io labels. Pure: the same index gives the same report.
 */

export { CLUSTER_EPHEMERAL_REPORT, CLUSTER_POLICY_REPORT, EPHEMERAL_REPORT, POLICY_REPORT };
export type { KindInfo, Obj };

/** The label that picks exactly five of the N stored reports (the "list 5 among N" workload). */
export const GROUP_LABEL = "bench.reports-server.io/group";
/** Carried by written reports so a watcher can tell which write an event belongs to. */
export const SEQ_ANNOTATION = "bench.reports-server.io/seq";
export const MANAGED_BY = { "app.kubernetes.io/managed-by": "kyverno" };

// The restricted Pod Security set: what Kyverno reports for a Pod (19 rules ≈ 7 KB in the wild).
const RULES: [policy: string, rule: string, category: string, message: string][] = [
  [
    "disallow-capabilities",
    "adding-capabilities",
    "Pod Security Standards (Baseline)",
    "validation rule 'adding-capabilities' passed.",
  ],
  [
    "disallow-host-namespaces",
    "host-namespaces",
    "Pod Security Standards (Baseline)",
    "validation error: Sharing the host namespaces is disallowed. rule host-namespaces failed at path /spec/hostNetwork/",
  ],
  [
    "disallow-host-path",
    "host-path",
    "Pod Security Standards (Baseline)",
    "validation rule 'host-path' passed.",
  ],
  [
    "disallow-host-ports",
    "host-ports-none",
    "Pod Security Standards (Baseline)",
    "validation rule 'host-ports-none' passed.",
  ],
  [
    "disallow-host-process",
    "host-process-containers",
    "Pod Security Standards (Baseline)",
    "validation rule 'host-process-containers' passed.",
  ],
  [
    "disallow-privileged-containers",
    "privileged-containers",
    "Pod Security Standards (Baseline)",
    "validation rule 'privileged-containers' passed.",
  ],
  [
    "disallow-proc-mount",
    "check-proc-mount",
    "Pod Security Standards (Baseline)",
    "validation rule 'check-proc-mount' passed.",
  ],
  [
    "disallow-selinux",
    "selinux-type",
    "Pod Security Standards (Baseline)",
    "validation rule 'selinux-type' passed.",
  ],
  [
    "restrict-apparmor-profiles",
    "app-armor",
    "Pod Security Standards (Baseline)",
    "validation rule 'app-armor' passed.",
  ],
  [
    "restrict-seccomp",
    "check-seccomp",
    "Pod Security Standards (Baseline)",
    "validation rule 'check-seccomp' passed.",
  ],
  [
    "restrict-sysctls",
    "check-sysctls",
    "Pod Security Standards (Baseline)",
    "validation rule 'check-sysctls' passed.",
  ],
  [
    "disallow-capabilities-strict",
    "require-drop-all",
    "Pod Security Standards (Restricted)",
    "validation error: Containers must drop `ALL` capabilities. rule require-drop-all failed",
  ],
  [
    "disallow-privilege-escalation",
    "privilege-escalation",
    "Pod Security Standards (Restricted)",
    "validation error: Privilege escalation is disallowed. rule privilege-escalation failed",
  ],
  [
    "require-run-as-non-root-user",
    "run-as-non-root-user",
    "Pod Security Standards (Restricted)",
    "validation rule 'run-as-non-root-user' passed.",
  ],
  [
    "require-run-as-nonroot",
    "run-as-non-root",
    "Pod Security Standards (Restricted)",
    "validation error: Running as root is not allowed. rule run-as-non-root failed",
  ],
  [
    "restrict-seccomp-strict",
    "check-seccomp-strict",
    "Pod Security Standards (Restricted)",
    "validation rule 'check-seccomp-strict' passed.",
  ],
  [
    "restrict-volume-types",
    "restricted-volumes",
    "Pod Security Standards (Restricted)",
    "validation rule 'restricted-volumes' passed.",
  ],
  [
    "require-pod-requests-limits",
    "validate-resources",
    "Best Practices",
    "validation rule 'validate-resources' passed.",
  ],
  [
    "disallow-latest-tag",
    "validate-image-tag",
    "Best Practices",
    "validation rule 'validate-image-tag' passed.",
  ],
  ["require-labels", "check-for-labels", "Best Practices", "validation rule 'check-for-labels' passed."],
];

const hex = (n: number, width: number) => (n >>> 0).toString(16).padStart(width, "0").slice(-width);

/** A stable UUID-shaped name for resource `i` of series `series` (e.g. a Pod's UID). */
export function uid(series: number, i: number): string {
  return `${hex(i, 8)}-${hex(series, 4)}-4${hex(i >>> 20, 3)}-8000-${hex(0x5eed0000 + series, 12)}`;
}

export interface Result {
  [k: string]: unknown;
}

/** `count` results cycling through the rule set; `stamp` changes every timestamp (a rescan). */
export function results(count: number, stamp: number): Result[] {
  const out: Result[] = [];
  for (let i = 0; i < count; i++) {
    const [policy, rule, category, message] = RULES[i % RULES.length];
    const round = Math.floor(i / RULES.length);
    out.push({
      category,
      message,
      policy: round === 0 ? policy : `${policy}-${round}`,
      result: message.startsWith("validation error") ? "fail" : "pass",
      rule,
      scored: true,
      severity: "medium",
      source: "kyverno",
      timestamp: { nanos: 0, seconds: 1_764_000_000 + stamp },
    });
  }
  return out;
}

function summaryOf(rs: Result[]) {
  const s = { error: 0, fail: 0, pass: 0, skip: 0, warn: 0 };
  for (const r of rs) s[r.result as "pass" | "fail"]++;
  return s;
}

export interface PolicyReportSpec {
  namespace: string;
  /** The resource's UID, which is also the report's name. */
  name: string;
  resultCount: number;
  labels?: Record<string, string>;
  stamp?: number;
  resourceVersion?: string;
}

/** A PolicyReport for one Pod: 20 results ≈ 6 KB of JSON, 100 ≈ 27 KB. */
export function policyReport(spec: PolicyReportSpec): Obj {
  const rs = results(spec.resultCount, spec.stamp ?? 0);
  const pod = `app-${spec.name.slice(0, 8)}-7c9f8d6b5-x2k4q`;
  const metadata: Record<string, unknown> = {
    name: spec.name,
    namespace: spec.namespace,
    labels: { ...MANAGED_BY, ...(spec.labels ?? {}) },
    ownerReferences: [{ apiVersion: "v1", kind: "Pod", name: pod, uid: spec.name }],
  };
  if (spec.resourceVersion) metadata.resourceVersion = spec.resourceVersion;
  if (spec.stamp !== undefined) metadata.annotations = { [SEQ_ANNOTATION]: String(spec.stamp) };
  return {
    apiVersion: POLICY_REPORT.apiVersion,
    kind: POLICY_REPORT.kind,
    metadata,
    scope: { apiVersion: "v1", kind: "Pod", name: pod, namespace: spec.namespace, uid: spec.name },
    summary: summaryOf(rs),
    results: rs,
  };
}

export interface Population {
  /** How many reports are stored. */
  n: number;
  namespaces: number;
  resultCount: number;
  /** UID series of the names, so several populations can share a store. */
  series: number;
}

/**
 * The i-th report of a population: spread over its namespaces, five of them per GROUP_LABEL value.
 * `stamp` and `resourceVersion` turn it into the body of an update.
 */
export function storedReport(p: Population, i: number, stamp?: number, resourceVersion?: string): Obj {
  const groups = Math.max(1, Math.floor(p.n / 5));
  return policyReport({
    namespace: namespaceOf(i, p.namespaces, p.series),
    name: uid(p.series, i),
    resultCount: p.resultCount,
    labels: { [GROUP_LABEL]: `g${p.series}-${i % groups}` },
    stamp,
    resourceVersion,
  });
}

export function namespaceOf(i: number, namespaces: number, series = 1): string {
  return `bench-${series}-ns-${i % namespaces}`;
}

/** What the admission controller creates for one admission request (generateName, no owner yet). */
export function admissionReport(
  namespace: string,
  admissionUid: string,
  resourceUid: string,
  n: number,
): Obj {
  const rs = results(n, 0);
  return {
    apiVersion: EPHEMERAL_REPORT.apiVersion,
    kind: EPHEMERAL_REPORT.kind,
    metadata: {
      generateName: `${admissionUid}-`,
      namespace,
      labels: {
        ...MANAGED_BY,
        "audit.kyverno.io/source": "admission",
        "audit.kyverno.io/resource.group": "",
        "audit.kyverno.io/resource.version": "v1",
        "audit.kyverno.io/resource.kind": "Pod",
        "cpol.kyverno.io/pod-security": "1234567",
      },
      annotations: {
        "audit.kyverno.io/resource.name": `app-${resourceUid.slice(0, 8)}`,
        "audit.kyverno.io/resource.namespace": namespace,
      },
    },
    spec: {
      owner: { apiVersion: "v1", kind: "Pod", name: `app-${resourceUid.slice(0, 8)}`, uid: resourceUid },
      results: rs,
      summary: summaryOf(rs),
    },
  };
}

/** The aggregator's update of an ephemeral report: ownerReference and resource.uid label added. */
export function withOwner(report: Obj, resourceUid: string): Obj {
  const meta = report.metadata as { labels?: Record<string, string>; name?: string };
  return {
    ...report,
    metadata: {
      ...report.metadata,
      labels: { ...(meta.labels ?? {}), "audit.kyverno.io/resource.uid": resourceUid },
      ownerReferences: [
        { apiVersion: "v1", kind: "Pod", name: `app-${resourceUid.slice(0, 8)}`, uid: resourceUid },
      ],
    },
  };
}

/** The PolicyReport the aggregator writes from merged ephemeral results. */
export function mergedReport(namespace: string, resourceUid: string, merged: Result[], rv?: string): Obj {
  const report = policyReport({ namespace, name: resourceUid, resultCount: 0, resourceVersion: rv });
  report.results = merged;
  report.summary = summaryOf(merged);
  return report;
}
