/**
 * The six kinds as a user sees them, and realistic reports to store. The report bodies are copied
 * from Kyverno's documentation and conformance tests (shared/reference/kyverno-examples/), trimmed
 * to what the tests need; nothing here is read from the server's own sources, so the tests check the
 * server against the CRDs as users know them.
 */

export interface KindInfo {
  group: string;
  version: string;
  apiVersion: string;
  kind: string;
  plural: string;
  singular: string;
  short: string;
  namespaced: boolean;
  categories: string[];
  /** `kubectl get` headers (without NAMESPACE), as with the CRDs. */
  columns: string[];
  /** `kubectl get -o wide` headers. */
  wideColumns: string[];
  /** Where the summary lives: ephemeral reports keep everything under spec. */
  summaryIn: "root" | "spec";
}

const SUMMARY = ["PASS", "FAIL", "WARN", "ERROR", "SKIP"];

function kind(
  group: string,
  version: string,
  k: string,
  short: string,
  namespaced: boolean,
  rest: Pick<KindInfo, "categories" | "columns" | "wideColumns" | "summaryIn">,
): KindInfo {
  const singular = k.toLowerCase();
  return {
    group,
    version,
    apiVersion: `${group}/${version}`,
    kind: k,
    plural: `${singular}s`,
    singular,
    short,
    namespaced,
    ...rest,
  };
}

const WG_COLUMNS = ["NAME", "KIND", "NAME", ...SUMMARY, "AGE"];
const OPEN_COLUMNS = ["NAME", ...SUMMARY, "AGE"];
const EPH_COLUMNS = ["NAME", "SOURCE", "GROUP", "KIND", "OWNER", ...SUMMARY, "AGE"];

export const POLICY_REPORT = kind("wgpolicyk8s.io", "v1alpha2", "PolicyReport", "polr", true, {
  categories: [],
  columns: WG_COLUMNS,
  wideColumns: WG_COLUMNS,
  summaryIn: "root",
});
export const CLUSTER_POLICY_REPORT = kind(
  "wgpolicyk8s.io",
  "v1alpha2",
  "ClusterPolicyReport",
  "cpolr",
  false,
  {
    categories: [],
    columns: WG_COLUMNS,
    wideColumns: WG_COLUMNS,
    summaryIn: "root",
  },
);
export const EPHEMERAL_REPORT = kind("reports.kyverno.io", "v1", "EphemeralReport", "ephr", true, {
  categories: ["kyverno"],
  columns: EPH_COLUMNS,
  wideColumns: [...EPH_COLUMNS, "UID", "HASH"],
  summaryIn: "spec",
});
export const CLUSTER_EPHEMERAL_REPORT = kind(
  "reports.kyverno.io",
  "v1",
  "ClusterEphemeralReport",
  "cephr",
  false,
  {
    categories: ["kyverno"],
    // In the CRD, Uid has priority 0 for the cluster kind but 1 for the namespaced one.
    columns: [...EPH_COLUMNS, "UID"],
    wideColumns: [...EPH_COLUMNS, "UID", "HASH"],
    summaryIn: "spec",
  },
);
export const REPORT = kind("openreports.io", "v1alpha1", "Report", "reps", true, {
  categories: [],
  columns: OPEN_COLUMNS,
  wideColumns: ["NAME", "KIND", "NAME", ...SUMMARY, "AGE"],
  summaryIn: "root",
});
export const CLUSTER_REPORT = kind("openreports.io", "v1alpha1", "ClusterReport", "creps", false, {
  categories: [],
  columns: OPEN_COLUMNS,
  wideColumns: ["NAME", "KIND", "NAME", ...SUMMARY, "AGE"],
  summaryIn: "root",
});

export const KINDS: KindInfo[] = [
  POLICY_REPORT,
  CLUSTER_POLICY_REPORT,
  EPHEMERAL_REPORT,
  CLUSTER_EPHEMERAL_REPORT,
  REPORT,
  CLUSTER_REPORT,
];

/** `/apis/<group>/<version>[/namespaces/<ns>]/<plural>[/<name>]` */
export function resourcePath(k: KindInfo, namespace?: string, name?: string): string {
  const ns = k.namespaced && namespace ? `/namespaces/${namespace}` : "";
  return `/apis/${k.apiVersion}${ns}/${k.plural}${name ? `/${encodeURIComponent(name)}` : ""}`;
}

export type Obj = Record<string, unknown> & { metadata: Record<string, unknown> };

export interface ReportOptions {
  name?: string;
  generateName?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  pass?: number;
  fail?: number;
  /** Extra top-level fields (or spec fields for ephemeral reports), merged in last. */
  extra?: Record<string, unknown>;
}

// From policyreport-pod.website.yaml (Kyverno docs): Pod Security results for a Pod.
const POD_RESULTS = [
  {
    category: "Pod Security Standards (Baseline)",
    message: "validation rule 'adding-capabilities' passed.",
    policy: "disallow-capabilities",
    result: "pass",
    rule: "adding-capabilities",
    scored: true,
    severity: "medium",
    source: "kyverno",
    timestamp: { nanos: 0, seconds: 1701868762 },
  },
  {
    category: "Pod Security Standards (Baseline)",
    message:
      "validation error: Sharing the host namespaces is disallowed. The fields spec.hostNetwork, spec.hostIPC, and spec.hostPID must be unset or set to `false`. rule host-namespaces failed at path /spec/hostNetwork/",
    policy: "disallow-host-namespaces",
    result: "fail",
    rule: "host-namespaces",
    scored: true,
    severity: "medium",
    source: "kyverno",
    timestamp: { nanos: 0, seconds: 1701868762 },
  },
];

// From clusterpolicyreport-namespace.chainsaw.yaml (Kyverno conformance tests): results for a Namespace.
const NAMESPACE_RESULTS = [
  {
    message:
      "validation error: You must have label `environment` with value `production` set on all new namespaces. rule require-ns-env-label failed at path /metadata/labels/environment/",
    policy: "check-ns-labels",
    result: "fail",
    rule: "require-ns-env-label",
    scored: true,
    source: "kyverno",
  },
  {
    message: "validation rule 'require-ns-purpose-label' passed.",
    policy: "check-ns-labels",
    result: "pass",
    rule: "require-ns-purpose-label",
    scored: true,
    source: "kyverno",
  },
];

// From openreports-report-list.website.yaml (Kyverno docs, --openreportsEnabled).
const OPENREPORTS_RESULTS = [
  {
    message:
      "validation error: Pods must have an 'app' label. rule check-app-label failed at path /metadata/labels/app/",
    policy: "default/require-app-label",
    properties: { process: "background scan" },
    result: "fail",
    rule: "check-app-label",
    scored: true,
    source: "kyverno",
    timestamp: { nanos: 0, seconds: 1849050397 },
  },
];

// From ephemeralreport-admission.chainsaw.yaml (Kyverno conformance tests).
const EPHEMERAL_RESULTS = [
  {
    message:
      "validation error: Resource must have valid labels. rule check-label-length failed at path /metadata/labels/team/",
    policy: "validate-long-resource-labels",
    result: "fail",
    rule: "check-label-length",
    scored: true,
    source: "kyverno",
  },
];

function summary(pass: number, fail: number) {
  return { error: 0, fail, pass, skip: 0, warn: 0 };
}

function scopeFor(k: KindInfo, namespace: string | undefined, target: string) {
  return k.namespaced
    ? { apiVersion: "v1", kind: "Pod", name: target, namespace, uid: "dcd32da4-8539-4636-bba5-fd2cc3a6aaff" }
    : { apiVersion: "v1", kind: "Namespace", name: target, uid: "5b1f3c2e-8c1e-4d7a-9a55-0f6c4f1d2e01" };
}

/** A realistic report of `k`, as Kyverno would write it: a fresh object the caller may change. */
export function makeReport(k: KindInfo, opts: ReportOptions = {}): Obj {
  return structuredClone(buildReport(k, opts));
}

function buildReport(k: KindInfo, opts: ReportOptions): Obj {
  const metadata: Record<string, unknown> = {
    labels: { "app.kubernetes.io/managed-by": "kyverno", ...(opts.labels ?? {}) },
  };
  if (opts.name) metadata.name = opts.name;
  if (opts.generateName) metadata.generateName = opts.generateName;
  if (k.namespaced && opts.namespace) metadata.namespace = opts.namespace;
  if (opts.annotations) metadata.annotations = opts.annotations;
  const pass = opts.pass ?? 1;
  const fail = opts.fail ?? 1;
  const target = opts.name ?? "example-deployment-c94dc9f47-dfq6l";
  if (k.summaryIn === "spec") {
    metadata.labels = {
      "audit.kyverno.io/source": "admission",
      "audit.kyverno.io/resource.group": "",
      "audit.kyverno.io/resource.kind": k.namespaced ? "Pod" : "Namespace",
      "audit.kyverno.io/resource.uid": "dcd32da4-8539-4636-bba5-fd2cc3a6aaff",
      ...(metadata.labels as Record<string, string>),
    };
    metadata.annotations = { "audit.kyverno.io/resource.name": target, ...(opts.annotations ?? {}) };
    return {
      apiVersion: k.apiVersion,
      kind: k.kind,
      metadata,
      spec: {
        owner: {
          apiVersion: "v1",
          kind: k.namespaced ? "Pod" : "Namespace",
          name: target,
          uid: "dcd32da4-8539-4636-bba5-fd2cc3a6aaff",
        },
        results: EPHEMERAL_RESULTS,
        summary: summary(pass, fail),
        ...(opts.extra ?? {}),
      },
    };
  }
  const results =
    k.group === "openreports.io" ? OPENREPORTS_RESULTS : k.namespaced ? POD_RESULTS : NAMESPACE_RESULTS;
  return {
    apiVersion: k.apiVersion,
    kind: k.kind,
    metadata,
    results,
    scope: scopeFor(k, opts.namespace, target),
    summary: summary(pass, fail),
    ...(opts.extra ?? {}),
  };
}

/** The summary of a stored report, wherever the kind keeps it. */
export function summaryOf(k: KindInfo, obj: Record<string, unknown>): Record<string, number> {
  const holder = k.summaryIn === "spec" ? (obj.spec as Record<string, unknown>) : obj;
  return holder.summary as Record<string, number>;
}

let counter = 0;
/** A name unique within this test run, valid as a namespace or object name. */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid.toString(36)}-${counter.toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
}

export const SERVED_BY = "reports.kyverno.io/served-by-reports-server";
