import type { Authenticator, Authorizer } from "../apimachinery/auth.js";
import type { Route } from "../endpoints/router.js";
import { withAuthentication, withAuthorization } from "./filters/auth.js";
import { withCacheControl } from "./filters/cache-control.js";
import { withImpersonation } from "./filters/impersonation.js";
import { withInflightLimit, type InflightLimits } from "./filters/inflight.js";
import { withTimeout } from "./filters/timeout.js";
import type { Handler } from "./filters/types.js";

export interface ChainDeps {
  route: Route;
  authenticate: Authenticator;
  authorize: Authorizer;
  /**
   * Honour Impersonate-* headers, each checked with `authorize` (cluster mode, where authorization is
   * delegated; standalone mode allows its one admin everything and ignores them).
   */
  impersonation: boolean;
  /** Paths that skip authentication and authorization (health, in standalone mode). */
  isPublic: (path: string) => boolean;
  /** The probes' own paths (GET /livez, /readyz, /healthz), exempt from the in-flight limits. */
  isProbe: (path: string) => boolean;
  limits: InflightLimits;
  requestTimeoutMs: number;
  onReject?: (reason: string) => void;
}

/** The filter chain, outermost last, as kube-apiserver's DefaultBuildHandlerChain reads. */
export function buildHandlerChain(d: ChainDeps): Handler {
  let h: Handler = d.route;
  // --authorization-always-allow-paths is the authorizer's to apply (to non-resource paths only)
  h = withAuthorization(h, d.authorize, d.isPublic);
  // Health probes are exempt, as kube-apiserver's "probes" flow schema makes them (GET of the bare
  // paths): a busy server must not be restarted by its liveness probe nor taken out of rotation by
  // its readiness probe.
  h = withInflightLimit(
    h,
    d.limits,
    { readonly: 0, mutating: 0, watches: 0 },
    d.onReject,
    (ctx) => (ctx.method === "GET" || ctx.method === "HEAD") && d.isProbe(ctx.path),
  );
  // Inside authentication and outside the in-flight limit, as in kube-apiserver: the reviews of an
  // impersonation take no in-flight slot, and authorization sees the impersonated user.
  if (d.impersonation) h = withImpersonation(h, d.authorize);
  // Outside the in-flight limit, as in kube-apiserver: work that outlives its 504 keeps its slot
  // until it really ends, so abandoned work cannot pile up beyond the limits.
  h = withTimeout(h, d.requestTimeoutMs);
  h = withAuthentication(h, d.authenticate, d.isPublic);
  // Outside authentication, as in kube-apiserver: a 401 is not to be cached either.
  h = withCacheControl(h);
  return h;
}
