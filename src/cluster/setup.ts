import type { Authorizer } from "../apimachinery/auth.js";
import type { AuthnFlags } from "./authn-config.js";
import { createAuthenticator, type ClusterAuthenticator } from "./authn.js";
import { createAuthorizer } from "./authz.js";
import { KubeClient } from "./kubeclient.js";
import { loadKubeconfig, resolveConnection, type InClusterEnv } from "./kubeconfig.js";
import { silentLog, type ClusterLog } from "./log.js";

/**
 * The cluster side of startup in one call: the kube-apiserver clients (--kubeconfig or the pod's
 * service account; --authentication-kubeconfig and --authorization-kubeconfig when given), the
 * authentication chain and the authorizer. Undefined when there is no cluster (standalone mode).
 * The leader's work (APIServices, migration) starts separately, once the server listens:
 * startClusterControllers() in controllers.ts.
 */

export interface ClusterSetupOptions {
  kubeconfig?: string;
  /** KUBERNETES_SERVICE_HOST/PORT, passed in by main. */
  inClusterEnv: InClusterEnv;
  serviceAccountDir?: string;
  authenticationKubeconfig?: string;
  authorizationKubeconfig?: string;
  authn: AuthnFlags & {
    tokenCacheTtlMs?: number;
    tolerateLookupFailure?: boolean;
    anonymous?: boolean;
  };
  authz: {
    allowTtlMs?: number;
    denyTtlMs?: number;
    alwaysAllowPaths?: string[];
    alwaysAllowGroups?: string[];
  };
  userAgent?: string;
  log?: ClusterLog;
}

export interface ClusterSetup {
  /** For APIServices, Leases and migration. */
  client: KubeClient;
  authenticator: ClusterAuthenticator;
  authorize: Authorizer;
  close(): void;
}

export async function setupCluster(opts: ClusterSetupOptions): Promise<ClusterSetup | undefined> {
  const conn = resolveConnection(opts.kubeconfig, opts.inClusterEnv, opts.serviceAccountDir);
  if (!conn) return undefined;
  const log = opts.log ?? silentLog;
  const clientOpts = { userAgent: opts.userAgent ?? "reports-server" };
  const client = new KubeClient(conn, clientOpts);
  const authnClient = opts.authenticationKubeconfig
    ? new KubeClient(loadKubeconfig(opts.authenticationKubeconfig), clientOpts)
    : client;
  const authzClient = opts.authorizationKubeconfig
    ? new KubeClient(loadKubeconfig(opts.authorizationKubeconfig), clientOpts)
    : client;
  const clients = [...new Set([client, authnClient, authzClient])];
  try {
    const authenticator = await createAuthenticator({
      flags: opts.authn,
      client: authnClient,
      tokenCacheTtlMs: opts.authn.tokenCacheTtlMs,
      tolerateLookupFailure: opts.authn.tolerateLookupFailure,
      anonymous: opts.authn.anonymous,
      log,
    });
    const authorize = createAuthorizer({ client: authzClient, ...opts.authz, log });
    return {
      client,
      authenticator,
      authorize,
      close() {
        authenticator.close();
        for (const c of clients) c.close();
      },
    };
  } catch (err) {
    for (const c of clients) c.close();
    throw err;
  }
}
