import type { IncomingHttpHeaders } from "node:http";
import type { X509Certificate } from "node:crypto";
import type { AuthnRequest } from "../apimachinery/auth.js";
import { unauthorized } from "../apimachinery/status.js";
import type { KubeObject, UserInfo } from "../apimachinery/types.js";
import {
  AUTHN_CONFIGMAP,
  mergeSettings,
  sameSettings,
  settingsFromConfigMap,
  settingsFromFlags,
  type AuthnFlags,
  type AuthnSettings,
} from "./authn-config.js";
import {
  DEFAULT_HEADER_NAMES,
  frontProxyAuthenticator,
  stripIdentityHeaders,
  type CompiledRequestHeader,
} from "./authn-requestheader.js";
import { tokenReviewAuthenticator } from "./authn-token.js";
import { bearerToken } from "./headers.js";
import { clientCertAuthenticator } from "./authn-x509.js";
import { follow, type Follower } from "./follow.js";
import { isKubeApiError, type KubeClient } from "./kubeclient.js";
import { errorMessage, silentLog, type ClusterLog } from "./log.js";
import { parsePemBundle } from "./x509-chain.js";

/**
 * The authentication chain of issue 5, first match wins: front proxy (requestheader CA + allowed names
 * → X-Remote-*), client certificate (client CA → CN/O), bearer token (TokenReview), else 401.
 * Trust comes from flags and the extension-apiserver-authentication ConfigMap, followed while running.
 */

export interface AuthenticatorConfig {
  flags?: AuthnFlags;
  /** For TokenReview (the --authentication-kubeconfig client, or the main one); no client → tokens are not accepted. */
  client?: KubeClient;
  /** Reads the ConfigMap; defaults to `client`. Undefined with no client: flags only. */
  configMapClient?: KubeClient;
  /** Follow the ConfigMap (default: whenever there is a client). */
  followConfigMap?: boolean;
  configMap?: { namespace: string; name: string };
  /** --authentication-token-webhook-cache-ttl (10 s); rejected tokens are cached as long unless set. */
  tokenCacheTtlMs?: number;
  tokenFailureCacheTtlMs?: number;
  tokenAudiences?: string[];
  /** How often CA files from flags are re-read, and the ConfigMap relisted (default 60 s). */
  reloadMs?: number;
  /**
   * Requests that present no credentials at all become system:anonymous (group system:unauthenticated)
   * instead of a 401, as k8s.io/apiserver's delegating authentication does; authorization then decides
   * (the always-allowed health paths pass, so kubelet probes work). Default false: the 401 of issue 5.
   */
  anonymous?: boolean;
  /** Start even when the ConfigMap cannot be read (k8s --authentication-tolerate-lookup-failure). */
  tolerateLookupFailure?: boolean;
  log?: ClusterLog;
}

export interface ClusterAuthenticator {
  /** The authenticated user, or a 401 StatusError. */
  authenticate(req: AuthnRequest): Promise<UserInfo>;
  /** Remove identity headers from a request (call on every request, after authenticate). */
  stripHeaders(headers: IncomingHttpHeaders): void;
  /** PEM bundles the TLS server passes as `ca` so that clients are asked for certificates. */
  clientCAs(): string[];
  /** Called after trust changed (CA rotation): rebuild the TLS context with clientCAs(). */
  onChange(cb: () => void): void;
  settings(): AuthnSettings;
  close(): void;
}

interface Compiled {
  settings: AuthnSettings;
  requestHeader?: CompiledRequestHeader;
  clientRoots: X509Certificate[];
}

function compile(settings: AuthnSettings): Compiled {
  const rh = settings.requestHeader;
  return {
    settings,
    requestHeader: rh ? { ...rh, roots: parsePemBundle(rh.caPem) } : undefined,
    clientRoots: settings.clientCaPem ? parsePemBundle(settings.clientCaPem) : [],
  };
}

export const AUTHENTICATED_GROUP = "system:authenticated";
const ANONYMOUS: UserInfo = { name: "system:anonymous", groups: ["system:unauthenticated"] };

/** k8s group.AuthenticatedGroupAdder: every authenticated user is in system:authenticated. */
function withAuthenticatedGroup(user: UserInfo): UserInfo {
  if (user.groups.includes(AUTHENTICATED_GROUP) || user.name === ANONYMOUS.name) return user;
  return { ...user, groups: [...user.groups, AUTHENTICATED_GROUP] };
}

/**
 * A client certificate or a bearer token that did not authenticate is a 401, never anonymous. An
 * Authorization header of another scheme (Basic), or a bearer without a token, is no credential:
 * k8s.io/apiserver's bearer-token authenticator passes on it and the request is anonymous.
 */
function presentsCredentials(req: AuthnRequest): boolean {
  return req.peerCertificates.length > 0 || bearerToken(req.headers) !== undefined;
}

export async function createAuthenticator(cfg: AuthenticatorConfig): Promise<ClusterAuthenticator> {
  const log = cfg.log ?? silentLog;
  const flags = cfg.flags ?? {};
  const cmClient = cfg.configMapClient ?? cfg.client;
  const cmRef = cfg.configMap ?? AUTHN_CONFIGMAP;
  let fromFlags = settingsFromFlags(flags);
  let fromConfigMap: AuthnSettings = {};
  let current = compile(mergeSettings(fromFlags, fromConfigMap));
  const listeners: (() => void)[] = [];

  const apply = () => {
    const next = mergeSettings(fromFlags, fromConfigMap);
    if (sameSettings(next, current.settings)) return;
    current = compile(next);
    log.info(
      {
        clientCA: !!next.clientCaPem,
        requestHeaderCA: !!next.requestHeader,
        allowedNames: next.requestHeader?.allowedNames,
      },
      "authentication trust changed",
    );
    for (const cb of listeners) {
      try {
        cb();
      } catch (err) {
        log.error({ err: errorMessage(err) }, "authentication onChange listener failed");
      }
    }
  };

  let follower: Follower | undefined;
  const needsConfigMap = !flags.clientCaFile || !flags.requestheaderClientCaFile;
  if (cmClient && needsConfigMap && cfg.followConfigMap !== false) {
    const onConfigMap = (cm: KubeObject | undefined) => {
      fromConfigMap = settingsFromConfigMap(cm?.data as Record<string, string> | undefined);
      apply();
    };
    follower = follow<KubeObject>(cmClient, `/api/v1/namespaces/${cmRef.namespace}/configmaps`, {
      query: { fieldSelector: `metadata.name=${cmRef.name}` },
      resyncMs: cfg.reloadMs ?? 60_000,
      log,
      onList: (items) => onConfigMap(items[0]),
      onEvent: (type, obj) => onConfigMap(type === "DELETED" ? undefined : obj),
    });
    try {
      await follower.synced;
    } catch (err) {
      const missing = isKubeApiError(err, 404);
      if (!cfg.tolerateLookupFailure && !missing) {
        follower.stop();
        throw new Error(
          `cannot read ConfigMap ${cmRef.namespace}/${cmRef.name} (${errorMessage(err)}); grant the extension-apiserver-authentication-reader role or pass --authentication-tolerate-lookup-failure`,
        );
      }
      log.warn(
        { err: errorMessage(err) },
        "authentication ConfigMap not readable; continuing with flags only",
      );
    }
  }

  const reload = setInterval(() => {
    try {
      fromFlags = settingsFromFlags(flags);
      apply();
    } catch (err) {
      log.error({ err: errorMessage(err) }, "cannot re-read client CA files; keeping the previous ones");
    }
  }, cfg.reloadMs ?? 60_000);
  reload.unref();

  const chain = [
    frontProxyAuthenticator(() => current.requestHeader),
    clientCertAuthenticator(() => current.clientRoots),
    ...(cfg.client
      ? [
          tokenReviewAuthenticator({
            client: cfg.client,
            ttlMs: cfg.tokenCacheTtlMs,
            failureTtlMs: cfg.tokenFailureCacheTtlMs,
            audiences: cfg.tokenAudiences,
            log,
          }),
        ]
      : []),
  ];

  return {
    async authenticate(req) {
      for (const step of chain) {
        const user = await step(req);
        if (user) return withAuthenticatedGroup(user);
      }
      if (cfg.anonymous && !presentsCredentials(req)) return { ...ANONYMOUS, groups: [...ANONYMOUS.groups] };
      throw unauthorized();
    },
    stripHeaders(headers) {
      stripIdentityHeaders(headers, current.requestHeader ?? DEFAULT_HEADER_NAMES);
    },
    clientCAs() {
      const s = current.settings;
      return [s.requestHeader?.caPem, s.clientCaPem].filter((p): p is string => !!p);
    },
    onChange(cb) {
      listeners.push(cb);
    },
    settings: () => current.settings,
    close() {
      clearInterval(reload);
      follower?.stop();
    },
  };
}
