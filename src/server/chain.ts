import type { Authenticator, Authorizer } from "../apimachinery/auth.js";
import type { Route } from "../endpoints/router.js";
import { withAuthentication, withAuthorization } from "./filters/auth.js";
import { withCacheControl } from "./filters/cache-control.js";
import { withInflightLimit, type InflightLimits } from "./filters/inflight.js";
import { withTimeout } from "./filters/timeout.js";
import type { Handler } from "./filters/types.js";

export interface ChainDeps {
  route: Route;
  authenticate: Authenticator;
  authorize: Authorizer;
  /** Paths that skip authentication and authorization (health, in standalone mode). */
  isPublic: (path: string) => boolean;
  /** Health probes, exempt from the in-flight limits. */
  isProbe: (path: string) => boolean;
  /** Paths that skip authorization (--authorization-always-allow-paths). */
  isAlwaysAllowed: (path: string) => boolean;
  limits: InflightLimits;
  requestTimeoutMs: number;
  onReject?: (reason: string) => void;
}

/** The filter chain, outermost last, as kube-apiserver's DefaultBuildHandlerChain reads. */
export function buildHandlerChain(d: ChainDeps): Handler {
  let h: Handler = d.route;
  h = withAuthorization(h, d.authorize, (p) => d.isPublic(p) || d.isAlwaysAllowed(p));
  // Health probes are exempt, as kube-apiserver's "probes" flow schema makes them: a busy server must
  // not be restarted by its liveness probe nor taken out of rotation by its readiness probe.
  h = withInflightLimit(h, d.limits, { readonly: 0, mutating: 0, watches: 0 }, d.onReject, (ctx) =>
    d.isProbe(ctx.path),
  );
  // Outside the in-flight limit, as in kube-apiserver: work that outlives its 504 keeps its slot
  // until it really ends, so abandoned work cannot pile up beyond the limits.
  h = withTimeout(h, d.requestTimeoutMs);
  h = withAuthentication(h, d.authenticate, d.isPublic);
  // Outside authentication, as in kube-apiserver: a 401 is not to be cached either.
  h = withCacheControl(h);
  return h;
}
