import { createHash } from "node:crypto";
import type { AuthnRequest } from "../apimachinery/auth.js";
import { unauthorized } from "../apimachinery/status.js";
import { isPlainObject, type UserInfo } from "../apimachinery/types.js";
import { bearerToken } from "./headers.js";
import type { KubeClient } from "./kubeclient.js";
import { errorMessage, silentLog, type ClusterLog } from "./log.js";
import { TtlCache } from "./ttl-cache.js";
import { withWebhookRetry } from "./webhook-retry.js";

/**
 * Bearer tokens, checked with a TokenReview (authentication.k8s.io/v1) against the kube-apiserver.
 * Answers are cached by a hash of the token (the token itself is never kept): successes for `ttlMs`,
 * rejections for `failureTtlMs`; a failed call is not cached. Concurrent checks of one token share a call.
 */

export interface TokenReviewConfig {
  client: KubeClient;
  /** --authentication-token-webhook-cache-ttl (10 s). */
  ttlMs?: number;
  failureTtlMs?: number;
  /** spec.audiences, when the server has its own audience. */
  audiences?: string[];
  log?: ClusterLog;
}

type Verdict = { user: UserInfo } | { error: string };

export const TOKENREVIEW_PATH = "/apis/authentication.k8s.io/v1/tokenreviews";

function userOf(status: Record<string, unknown>): UserInfo {
  const u = isPlainObject(status.user) ? status.user : {};
  const user: UserInfo = {
    name: typeof u.username === "string" ? u.username : "",
    groups: Array.isArray(u.groups) ? u.groups.filter((g): g is string => typeof g === "string") : [],
  };
  if (typeof u.uid === "string" && u.uid) user.uid = u.uid;
  if (isPlainObject(u.extra) && Object.keys(u.extra).length > 0)
    user.extra = u.extra as Record<string, string[]>;
  return user;
}

export function tokenReviewAuthenticator(cfg: TokenReviewConfig) {
  const ttl = cfg.ttlMs ?? 10_000;
  const failureTtl = cfg.failureTtlMs ?? ttl;
  const log = cfg.log ?? silentLog;
  const cache = new TtlCache<Verdict>();
  const inFlight = new Map<string, Promise<Verdict>>();

  const review = async (token: string): Promise<Verdict> => {
    const spec: Record<string, unknown> = { token };
    if (cfg.audiences?.length) spec.audiences = cfg.audiences;
    const res = await withWebhookRetry(() =>
      cfg.client.create<{ status?: Record<string, unknown> }>(TOKENREVIEW_PATH, {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenReview",
        spec,
      }),
    );
    const status = res.status ?? {};
    if (status.authenticated === true) {
      const user = userOf(status);
      if (user.name) return { user };
    }
    return { error: typeof status.error === "string" ? status.error : "token not authenticated" };
  };

  const check = (key: string, token: string): Promise<Verdict> => {
    const running = inFlight.get(key);
    if (running) return running;
    const p = review(token)
      .then((v) => {
        cache.set(key, v, "user" in v ? ttl : failureTtl);
        return v;
      })
      .finally(() => inFlight.delete(key));
    inFlight.set(key, p);
    return p;
  };

  const authenticate = async (req: AuthnRequest): Promise<UserInfo | undefined> => {
    const token = bearerToken(req.headers);
    if (!token) return undefined;
    const key = createHash("sha256").update(token).digest("base64url");
    let verdict = cache.get(key);
    if (!verdict) {
      try {
        verdict = await check(key, token);
      } catch (err) {
        // As in k8s: a webhook that cannot be reached authenticates no one (401), and it is logged.
        log.error({ err: errorMessage(err) }, "TokenReview failed");
        throw unauthorized();
      }
    }
    if ("user" in verdict) return verdict.user;
    throw unauthorized();
  };
  return Object.assign(authenticate, { clearCache: () => cache.clear() });
}
