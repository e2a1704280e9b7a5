import { randomUUID } from "node:crypto";
import type { KubeObject } from "../../src/apimachinery/types.js";

// Policies and messages as Kyverno's Pod Security and best-practice policies report them.
const CHECKS = [
  [
    "disallow-capabilities",
    "adding-capabilities",
    "Pod Security Standards (Baseline)",
    "pass",
    "validation rule 'adding-capabilities' passed.",
  ],
  [
    "disallow-host-namespaces",
    "host-namespaces",
    "Pod Security Standards (Baseline)",
    "fail",
    "validation error: Sharing the host namespaces is disallowed. The fields spec.hostNetwork, spec.hostIPC, and spec.hostPID must be unset or set to `false`. rule host-namespaces failed at path /spec/hostNetwork/",
  ],
  [
    "disallow-privileged-containers",
    "privileged-containers",
    "Pod Security Standards (Baseline)",
    "pass",
    "validation rule 'privileged-containers' passed.",
  ],
  [
    "require-run-as-nonroot",
    "run-as-non-root",
    "Pod Security Standards (Restricted)",
    "fail",
    "validation error: Running as root is not allowed. Either the field spec.securityContext.runAsNonRoot must be set to `true`, or the fields spec.containers[*].securityContext.runAsNonRoot, spec.initContainers[*].securityContext.runAsNonRoot, and spec.ephemeralContainers[*].securityContext.runAsNonRoot must be set to `true`. rule run-as-non-root[0] failed at path /spec/securityContext/runAsNonRoot/ rule run-as-non-root[1] failed at path /spec/containers/0/securityContext/",
  ],
  [
    "require-requests-limits",
    "validate-resources",
    "Best Practices",
    "fail",
    "validation error: CPU and memory resource requests and limits are required. rule validate-resources failed at path /spec/containers/0/resources/limits/",
  ],
  [
    "disallow-latest-tag",
    "validate-image-tag",
    "Best Practices",
    "pass",
    "validation rule 'validate-image-tag' passed.",
  ],
  [
    "restrict-seccomp-strict",
    "check-seccomp-strict",
    "Pod Security Standards (Restricted)",
    "fail",
    "validation error: Use of custom Seccomp profiles is disallowed. The fields spec.securityContext.seccompProfile.type, spec.containers[*].securityContext.seccompProfile.type, spec.initContainers[*].securityContext.seccompProfile.type, and spec.ephemeralContainers[*].securityContext.seccompProfile.type must be set to `RuntimeDefault` or `Localhost`. rule check-seccomp-strict[0] failed at path /spec/securityContext/seccompProfile/",
  ],
  [
    "disallow-host-path",
    "host-path",
    "Pod Security Standards (Baseline)",
    "pass",
    "validation rule 'host-path' passed.",
  ],
] as const;

/**
 * A namespace's PolicyReport as Kyverno writes it for a busy namespace: one result per pod and
 * policy, each naming its pod (random suffixes and uids, as real pods have), until the JSON
 * reaches `bytes`. Realistic, so it compresses as real reports do (well, but far from trivially).
 */
export function bigPolicyReport(namespace: string, name: string, bytes: number): KubeObject {
  const results: Record<string, unknown>[] = [];
  const report: KubeObject = {
    apiVersion: "wgpolicyk8s.io/v1alpha2",
    kind: "PolicyReport",
    metadata: { name, namespace, labels: { "app.kubernetes.io/managed-by": "kyverno" } },
    results,
    summary: { error: 0, fail: 0, pass: 0, skip: 0, warn: 0 },
  };
  const summary = report.summary as Record<string, number>;
  let size = JSON.stringify(report).length;
  for (let pod = 0; size < bytes; pod++) {
    const podName = `web-${randomUUID().slice(0, 10)}-${randomUUID().slice(0, 5)}`;
    const uid = randomUUID();
    const seconds = 1_701_868_762 + pod * 37;
    for (const [policy, rule, category, result, message] of CHECKS) {
      const entry = {
        category,
        message,
        policy,
        resources: [{ apiVersion: "v1", kind: "Pod", name: podName, namespace, uid }],
        result,
        rule,
        scored: true,
        severity: "medium",
        source: "kyverno",
        timestamp: { nanos: 0, seconds },
      };
      results.push(entry);
      summary[result]++;
      size += JSON.stringify(entry).length + 1;
    }
  }
  return report;
}
