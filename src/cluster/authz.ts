import type { AuthzAttributes, AuthzDecision, Authorizer } from "../apimachinery/auth.js";
import type { KubeClient } from "./kubeclient.js";
import { errorMessage, silentLog, type ClusterLog } from "./log.js";
import { fieldSelectorRequirements, labelSelectorRequirements } from "./sar-selectors.js";
import { TtlCache } from "./ttl-cache.js";
import { withWebhookRetry } from "./webhook-retry.js";

export { forbiddenError, forbiddenMessage } from "../apimachinery/forbidden.js";

/**
 * Delegated authorization: a SubjectAccessReview (authorization.k8s.io/v1) per distinct request,
 * allow and deny cached apart (10 s each by default, as the delegating authorizer of k8s.io/apiserver);
 * a request is first asked about the whole collection, in every namespace and then in its own (below).
 * Members of `system:masters` and the always-allowed non-resource paths skip the review.
 * A review that cannot be made is an error (the server answers 500), never an allow, and is not cached.
 */

export interface AuthorizerConfig {
  client: KubeClient;
  /** --authorization-webhook-cache-authorized-ttl (10 s) */
  allowTtlMs?: number;
  /** --authorization-webhook-cache-unauthorized-ttl (10 s) */
  denyTtlMs?: number;
  /** --authorization-always-allow-paths (default /healthz, /readyz, /livez); a trailing `*` matches a prefix. */
  alwaysAllowPaths?: string[];
  /** --authorization-always-allow-groups (default system:masters). */
  alwaysAllowGroups?: string[];
  log?: ClusterLog;
}

export const SAR_PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews";
export const DEFAULT_ALWAYS_ALLOW_PATHS = ["/healthz", "/readyz", "/livez"];

/** k8s path authorizer: leading "/" ignored, exact paths or a trailing `*` prefix. Throws on a `*` elsewhere. */
export function alwaysAllowPathMatcher(paths: string[]): (path: string) => boolean {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const raw of paths) {
    const p = raw.replace(/^\//, "");
    if (p.slice(0, -1).includes("*")) throw new Error(`only trailing * allowed in "${raw}"`);
    if (p.endsWith("*")) prefixes.push(p.slice(0, -1));
    else exact.add(p);
  }
  return (path) => {
    const p = path.replace(/^\//, "");
    return exact.has(p) || prefixes.some((pre) => p.startsWith(pre));
  };
}

/** The SubjectAccessReview spec for a request. Pure. */
export function subjectAccessReviewSpec(a: AuthzAttributes): Record<string, unknown> {
  const spec: Record<string, unknown> = { user: a.user.name, groups: a.user.groups };
  if (a.user.uid) spec.uid = a.user.uid;
  if (a.user.extra && Object.keys(a.user.extra).length > 0) spec.extra = a.user.extra;
  if (a.resourceRequest) {
    const ra: Record<string, unknown> = {
      namespace: a.namespace,
      verb: a.verb,
      group: a.apiGroup,
      version: a.apiVersion,
      resource: a.resource,
      subresource: a.subresource,
      name: a.name,
    };
    // Set only when some requirement is left, as webhook.go resourceAttributesFrom does: the
    // reviewer may then allow a list narrowed to what the user may see. Being part of the spec,
    // the selectors are part of the cache key too (the webhook's key is the marshalled spec).
    const fieldReqs = a.fieldSelector ? fieldSelectorRequirements(a.fieldSelector) : [];
    if (fieldReqs.length > 0) ra.fieldSelector = { requirements: fieldReqs };
    const labelReqs = a.labelSelector ? labelSelectorRequirements(a.labelSelector) : [];
    if (labelReqs.length > 0) ra.labelSelector = { requirements: labelReqs };
    spec.resourceAttributes = ra;
  } else {
    spec.nonResourceAttributes = { path: a.path, verb: a.verb };
  }
  return spec;
}

/**
 * shouldCache: a decision about attributes a client chose to make huge (a long name or path) is not
 * kept, so such requests cannot fill the cache (maxControlledAttrCacheSize). The selectors are not
 * counted, as webhook.go's shouldCache (through 1.36) does not count them either.
 */
function cacheable(a: AuthzAttributes): boolean {
  const size =
    a.namespace.length +
    a.verb.length +
    a.apiGroup.length +
    a.apiVersion.length +
    a.resource.length +
    a.subresource.length +
    a.name.length +
    a.path.length;
  return size < 10_000;
}

interface SarResponse {
  status?: { allowed?: boolean; denied?: boolean; reason?: string; evaluationError?: string };
}

export function createAuthorizer(cfg: AuthorizerConfig): Authorizer {
  const allowTtl = cfg.allowTtlMs ?? 10_000;
  const denyTtl = cfg.denyTtlMs ?? 10_000;
  const alwaysAllowPath = alwaysAllowPathMatcher(cfg.alwaysAllowPaths ?? DEFAULT_ALWAYS_ALLOW_PATHS);
  const privileged = new Set(cfg.alwaysAllowGroups ?? ["system:masters"]);
  const log = cfg.log ?? silentLog;
  const cache = new TtlCache<AuthzDecision>();
  const inFlight = new Map<string, Promise<AuthzDecision>>();

  const review = async (spec: Record<string, unknown>): Promise<AuthzDecision> => {
    const res = await withWebhookRetry(() =>
      cfg.client.create<SarResponse>(SAR_PATH, {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        spec,
      }),
    );
    const s = res.status ?? {};
    // a review that says both is a denial (webhook.go checks Denied first)
    if (s.allowed === true && s.denied !== true) return { allowed: true };
    if (s.evaluationError)
      log.warn({ evaluationError: s.evaluationError }, "SubjectAccessReview evaluation error");
    return s.reason ? { allowed: false, reason: s.reason } : { allowed: false };
  };

  /** The review of `spec` (made from `attrs`), cached under `key`, its JSON. */
  const decide = async (
    attrs: AuthzAttributes,
    spec: Record<string, unknown>,
    key: string,
  ): Promise<AuthzDecision> => {
    const cached = cache.get(key);
    if (cached) return cached;
    let p = inFlight.get(key);
    if (!p) {
      p = review(spec)
        .then((d) => {
          if (cacheable(attrs)) cache.set(key, d, d.allowed ? allowTtl : denyTtl);
          return d;
        })
        .finally(() => inFlight.delete(key));
      inFlight.set(key, p);
    }
    try {
      return await p;
    } catch (err) {
      log.error({ err: errorMessage(err) }, "SubjectAccessReview failed");
      // the authorization filter answers it as kube-apiserver does, a plain-text 500 naming the cause
      throw new Error(errorMessage(err));
    }
  };

  return async (attrs) => {
    if (attrs.user.groups.some((g) => privileged.has(g))) return { allowed: true };
    if (!attrs.resourceRequest && alwaysAllowPath(attrs.path)) return { allowed: true };
    // A namespace, a name and selectors only narrow a request. A review with no name is about every
    // object and one with no namespace about every namespace (SubjectAccessReview: "" means all), and
    // whoever may list everything may list a selection (KEP-4601). Kyverno writes reports by name in
    // every namespace and lists them by a label per resource uid, so reviewing each request as kube's
    // webhook authorizer does would send a review for nearly every request. The broadest question is
    // asked first, then the namespace's, each cached; the request's own review is made only when
    // neither allows (a RoleBinding in one namespace, RBAC resourceNames, a selector-aware webhook).
    const spec = subjectAccessReviewSpec(attrs);
    const key = JSON.stringify(spec);
    // (Impersonation is left as kube-apiserver asks it: rare, and most often allowed per name.)
    if (attrs.resourceRequest && attrs.verb !== "impersonate") {
      const whole = { ...attrs, name: "", fieldSelector: undefined, labelSelector: undefined };
      const asked = new Set([key]);
      for (const broader of [{ ...whole, namespace: "" }, whole]) {
        const broaderSpec = subjectAccessReviewSpec(broader);
        const broaderKey = JSON.stringify(broaderSpec);
        // the same question again: a request that narrows nothing, a cluster-scoped kind (no
        // namespace to drop), selectors with no requirement left (only > and <, or unparsable)
        if (asked.has(broaderKey)) continue;
        asked.add(broaderKey);
        // a failure here is not the request's: the review kube would make is still to come
        const d = await decide(broader, broaderSpec, broaderKey).catch(() => undefined);
        if (d?.allowed) return d;
      }
    }
    return decide(attrs, spec, key);
  };
}
