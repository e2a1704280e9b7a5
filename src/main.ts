import { randomUUID } from "node:crypto";
import { existsSync, readFileSync, watchFile } from "node:fs";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import type { Authenticator, Authorizer } from "./apimachinery/auth.js";
import { servedGroupVersions } from "./cluster/apiservice.js";
import { startClusterControllers, type ClusterControllers } from "./cluster/controllers.js";
import { startNamespaceLifecycle, type NamespaceLifecycle } from "./cluster/namespaces.js";
import type { NamespaceAdmission } from "./apimachinery/admission.js";
import { setupCluster, type ClusterSetup } from "./cluster/setup.js";
import type { AuthnFlags } from "./cluster/authn-config.js";
import { createAuthenticator, type ClusterAuthenticator } from "./cluster/authn.js";
import { parseConfig, type Config } from "./config.js";
import { buildDiscovery } from "./endpoints/discovery.js";
import { buildOpenAPI } from "./endpoints/openapi.js";
import { openapiRoutes } from "./endpoints/openapi-routes.js";
import { createRouter, type Route } from "./endpoints/router.js";
import { Registry } from "./registry/store.js";
import { loadResources } from "./resources/index.js";
import { buildHandlerChain } from "./server/chain.js";
import { healthRoutes, type HealthCheck } from "./server/health.js";
import { createHttpServer, type TlsMaterial } from "./server/http.js";
import { createLogger } from "./server/logger.js";
import { createMetrics } from "./server/metrics.js";
import { selfSignedServingCert, type ServingCert } from "./server/serving-cert.js";
import { sharedServingCert } from "./cluster/serving-secret.js";
import type { KubeClient } from "./cluster/kubeclient.js";
import { loadOrCreateToken, staticTokenAuthenticator, writeKubeconfig } from "./server/standalone.js";
import { createStorage } from "./storage/factory.js";
import { instrumentStorage } from "./storage/instrumented.js";

/** JSON bytes of recent objects kept per kind (registry/recent.ts): ~1,300 reports of 6 KB. */
const RECENT_OBJECT_BYTES = 8 * 1024 * 1024;

function readServingFiles(cfg: Config): { key: string; cert: string; caCert: string } {
  const cert = readFileSync(cfg.tlsCertFile!, "utf8");
  const key = readFileSync(cfg.tlsPrivateKeyFile!, "utf8");
  const caFile = cfg.tlsCaFile ?? join(dirname(cfg.tlsCertFile!), "ca.crt");
  const caCert = existsSync(caFile) ? readFileSync(caFile, "utf8") : cert;
  return { key, cert, caCert };
}

const HEALTH_PATHS = ["/healthz", "/livez", "/readyz"];
const isHealthPath = (p: string): boolean => HEALTH_PATHS.some((h) => p === h || p.startsWith(`${h}/`));

function servingHosts(cfg: Config): { dns: string[]; ips: string[] } {
  const dns = [
    "localhost",
    cfg.serviceName,
    `${cfg.serviceName}.${cfg.serviceNamespace}`,
    `${cfg.serviceName}.${cfg.serviceNamespace}.svc`,
    `${cfg.serviceName}.${cfg.serviceNamespace}.svc.cluster.local`,
  ];
  const ips = ["127.0.0.1", "::1"];
  if (cfg.bindAddress !== "0.0.0.0" && cfg.bindAddress !== "::" && !ips.includes(cfg.bindAddress))
    ips.push(cfg.bindAddress);
  return { dns, ips };
}

async function main(): Promise<void> {
  const cfg = parseConfig(process.argv.slice(2), process.env);
  const log = createLogger(cfg.logLevel, cfg.logFormat);
  const served = new Set(cfg.serveGroups);
  const resources = loadResources().filter((d) => served.size === 0 || served.has(d.group));

  let storage;
  try {
    storage = await createStorage(cfg, log);
  } catch (err) {
    log.fatal(
      { backend: cfg.storageBackend, err: err instanceof Error ? err.message : String(err) },
      "cannot open storage",
    );
    process.exit(1);
  }
  const metrics = createMetrics({ resources });
  storage = instrumentStorage(storage, cfg.storageBackend, metrics.storage);
  // A database read before each write is a round trip the recent objects spare; memory reads are free.
  const recentObjectBytes = cfg.storageBackend === "memory" ? 0 : RECENT_OBJECT_BYTES;
  // kube-apiserver's NamespaceLifecycle admission: in a cluster, once its namespaces are followed
  let namespaces: NamespaceLifecycle | undefined;
  const admission: NamespaceAdmission = {
    admit: async (op, gr, name, namespace) => namespaces?.admit(op, gr, name, namespace),
  };
  const registries = resources.map(
    (d) => new Registry(d, storage, { maxPageSize: cfg.maxPageSize, recentObjectBytes, admission }),
  );

  const inCluster = Boolean(cfg.kubeconfig || cfg.inCluster.host);
  let authenticate: Authenticator;
  let authorize: Authorizer;
  let clientCAs: string[] = [];
  let adminToken: string | undefined;
  let cluster: ClusterSetup | undefined;
  const authnFlags: AuthnFlags = {
    clientCaFile: cfg.clientCAFile,
    requestheaderClientCaFile: cfg.requestheader.clientCAFile,
    requestheaderAllowedNames: cfg.requestheader.allowedNames,
    requestheaderUsernameHeaders: cfg.requestheader.usernameHeaders,
    requestheaderGroupHeaders: cfg.requestheader.groupHeaders,
    requestheaderExtraHeadersPrefix: cfg.requestheader.extraHeadersPrefix,
  };
  let certAuthn: ClusterAuthenticator | undefined;
  if (!inCluster) {
    adminToken = loadOrCreateToken(cfg.certDir);
    const byToken = staticTokenAuthenticator(adminToken);
    // The CA flags mean here what they mean in a cluster: a front proxy (or a client certificate)
    // they trust authenticates, before the admin token, as kube-apiserver orders its authenticators.
    if (cfg.clientCAFile || cfg.requestheader.clientCAFile) {
      const certs = await createAuthenticator({ flags: authnFlags, log });
      certAuthn = certs;
      clientCAs = certs.clientCAs();
      authenticate = async (req) => {
        const user = await certs.authenticate(req).catch(() => byToken(req));
        certs.stripHeaders(req.headers);
        return user;
      };
    } else {
      authenticate = byToken;
    }
    authorize = async () => ({ allowed: true });
    log.warn({}, "standalone mode: no kube-apiserver; every authenticated request allowed");
  } else {
    const setup = await setupCluster({
      kubeconfig: cfg.kubeconfig,
      inClusterEnv: {
        KUBERNETES_SERVICE_HOST: cfg.inCluster.host,
        KUBERNETES_SERVICE_PORT: cfg.inCluster.port,
      },
      authenticationKubeconfig: cfg.authenticationKubeconfig,
      authorizationKubeconfig: cfg.authorizationKubeconfig,
      authn: {
        ...authnFlags,
        tokenCacheTtlMs: cfg.authenticationTokenWebhookCacheTtlMs,
        tolerateLookupFailure: cfg.authenticationTolerateLookupFailure,
        // DelegatingAuthenticationOptions: a request without credentials is system:anonymous, and
        // authorization (RBAC, --authorization-always-allow-paths) decides what it may do
        anonymous: true,
      },
      authz: {
        allowTtlMs: cfg.authorizationWebhookCacheAuthorizedTtlMs,
        denyTtlMs: cfg.authorizationWebhookCacheUnauthorizedTtlMs,
        alwaysAllowPaths: cfg.authorizationAlwaysAllowPaths,
      },
      log,
    });
    // In a pod without a service account token: refuse rather than fall back to standalone mode.
    if (!setup) {
      log.fatal(
        {},
        "running in a cluster but no kube-apiserver credentials (service account token) were found",
      );
      process.exit(1);
    }
    cluster = setup;
    const authn = setup.authenticator;
    authenticate = async (req) => {
      const user = await authn.authenticate(req);
      // Identity headers and credentials go no further than authentication, as in kube-apiserver.
      authn.stripHeaders(req.headers);
      delete req.headers.authorization;
      return user;
    };
    authorize = setup.authorize;
    clientCAs = authn.clientCAs();
  }

  // Serving certificate: files (reloaded on change, below); self-signed and shared by the replicas
  // through a Secret in a cluster (checked again every hour, below); or self-signed in --cert-dir.
  let sharingCert = false;
  const settleSharedCert = async (client: KubeClient): Promise<ServingCert | undefined> => {
    try {
      return await sharedServingCert(client, {
        namespace: cfg.serviceNamespace,
        name: cfg.servingCertSecret,
        hosts: servingHosts(cfg),
        log,
      });
    } catch (err) {
      // what this replica did before the Secret existed: its own certificate, trusted once it leads
      log.error(
        { err: err instanceof Error ? err.message : String(err), secret: cfg.servingCertSecret },
        "cannot share the serving certificate through the Secret (RBAC: Role reports-server:serving-cert); using this replica's own",
      );
      return undefined;
    }
  };
  let key: string;
  let cert: string;
  let caCert: string;
  if (cfg.tlsCertFile && cfg.tlsPrivateKeyFile) {
    ({ key, cert, caCert } = readServingFiles(cfg));
  } else {
    const shared = cluster && cfg.servingCertSecret ? await settleSharedCert(cluster.client) : undefined;
    ({ key, cert, caCert } = shared ?? (await selfSignedServingCert(cfg.certDir, servingHosts(cfg))));
    sharingCert = shared !== undefined;
  }

  let shuttingDown = false;
  const readyChecks: HealthCheck[] = [
    { name: "storage", check: () => storage.ready() },
    {
      name: "shutdown",
      check: async () => {
        if (shuttingDown) throw new Error("shutting down");
      },
    },
  ];
  const liveChecks: HealthCheck[] = [{ name: "ping", check: async () => {} }];
  const extra = new Map<string, Route>([
    ...openapiRoutes(buildOpenAPI(resources)),
    ...healthRoutes({
      livez: liveChecks,
      healthz: [...liveChecks, ...readyChecks.slice(0, 1)],
      readyz: readyChecks,
    }),
    ["/metrics", (ctx) => metrics.handle(ctx)],
  ]);
  if (cluster) namespaces = startNamespaceLifecycle(cluster.client, log);
  const route = createRouter({
    registries,
    discovery: buildDiscovery(resources),
    extra,
    watch: {
      minRequestTimeoutMs: cfg.minRequestTimeoutMs,
      maxBufferedBytes: 16 * 1024 * 1024,
      bookmarkIntervalMs: 60_000,
      observer: metrics.watch,
    },
    now: () => new Date(),
  });
  const handler = buildHandlerChain({
    route,
    authenticate,
    authorize,
    impersonation: inCluster,
    // In a cluster, health is authenticated like any path (a probe is system:anonymous) and the bare
    // paths are always allowed, as an aggregated server built on k8s.io/apiserver does; standalone
    // has no anonymous user, so its health paths skip both.
    isPublic: (p) => !inCluster && isHealthPath(p),
    isProbe: (p) => HEALTH_PATHS.includes(p),
    limits: cfg,
    requestTimeoutMs: cfg.requestTimeoutMs,
    onReject: metrics.rejected,
  });
  const tls: TlsMaterial = {
    key,
    cert,
    clientCAs,
    minVersion: cfg.tlsMinVersion === "VersionTLS13" ? "TLSv1.3" : "TLSv1.2",
    ciphers: cfg.tlsCipherSuites.length ? cfg.tlsCipherSuites.join(":") : undefined,
  };
  const server = createHttpServer(tls, handler, log, metrics.api);
  if (cfg.tlsCertFile && cfg.tlsPrivateKeyFile) {
    // Mounted Secrets change by a symlink swap that fs.watch misses: poll, as kube-apiserver's
    // dynamic certificate controller does.
    const files = [cfg.tlsCertFile, cfg.tlsPrivateKeyFile];
    for (const f of files) {
      watchFile(f, { interval: 5_000 }, () => {
        try {
          const next = readServingFiles(cfg);
          tls.key = next.key;
          tls.cert = next.cert;
          caCert = next.caCert;
          server.setTls(tls);
          void controllers?.reconcileNow();
          log.info({ file: f }, "reloaded the serving certificate");
        } catch (err) {
          log.error(
            { err: err instanceof Error ? err.message : String(err) },
            "cannot reload the serving certificate",
          );
        }
      });
    }
  }
  if (sharingCert && cluster) {
    const client = cluster.client;
    // A renewal another replica wrote (or one due now) reaches this one without a restart.
    const resync = setInterval(
      () =>
        void settleSharedCert(client)
          .then((next) => {
            if (!next || next.cert === tls.cert) return;
            server.setTls({ ...tls, key: next.key, cert: next.cert });
            tls.key = next.key;
            tls.cert = next.cert;
            caCert = next.caCert;
            void controllers?.reconcileNow();
            log.info({ secret: cfg.servingCertSecret }, "serving the renewed certificate");
          })
          .catch((err: unknown) =>
            log.error(
              { err: err instanceof Error ? err.message : String(err) },
              "cannot serve the renewed certificate; keeping the current one",
            ),
          ),
      3_600_000 * (1 + Math.random() * 0.1),
    );
    resync.unref();
  }
  const port = await server.listen(cfg.securePort, cfg.bindAddress);
  const host = cfg.bindAddress === "0.0.0.0" || cfg.bindAddress === "::" ? "127.0.0.1" : cfg.bindAddress;
  const url = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
  if (cfg.writeKubeconfig && adminToken) {
    writeKubeconfig(cfg.writeKubeconfig, url, caCert, adminToken);
    log.info({ kubeconfig: cfg.writeKubeconfig }, "wrote kubeconfig");
  }
  log.info({ port, url, backend: cfg.storageBackend, kinds: resources.length }, "serving");

  let controllers: ClusterControllers | undefined;
  const trust = cluster?.authenticator ?? certAuthn;
  trust?.onChange(() => {
    tls.clientCAs = trust.clientCAs();
    server.setTls(tls);
    log.info({}, "client CAs changed; TLS updated");
  });
  if (cluster) {
    const c = cluster;
    const byKind = new Map(registries.map((r) => [r.def, r]));
    controllers = startClusterControllers({
      client: c.client,
      namespace: cfg.serviceNamespace,
      identity: `${hostname()}_${randomUUID().slice(0, 8)}`,
      service: { namespace: cfg.serviceNamespace, name: cfg.serviceName, port: cfg.servicePort },
      groupVersions: servedGroupVersions(resources, cfg.serveGroups.length ? cfg.serveGroups : undefined),
      caBundle: () => caCert,
      leaseDurationMs: cfg.leaderElect.leaseDurationMs,
      renewDeadlineMs: cfg.leaderElect.renewDeadlineMs,
      retryPeriodMs: cfg.leaderElect.retryPeriodMs,
      migration: cfg.skipMigration
        ? false
        : { defs: resources, write: (def, obj) => byKind.get(def)!.importObject(obj) },
      log,
    });
    const ctl = controllers;
    setInterval(() => metrics.setLeader(ctl.isLeader()), 2_000).unref();
  }

  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info({ signal }, "shutting down: /readyz fails, then connections close");
    await new Promise((r) => setTimeout(r, cfg.shutdownDelayMs));
    // Requests in flight may take up to the request timeout (it bounds every non-watch request), as
    // kube-apiserver waits for them; a fixed few seconds would cut a slow list or write short.
    await server.close(cfg.requestTimeoutMs > 0 ? cfg.requestTimeoutMs + 1_000 : 5_000);
    // The Lease is released; the APIServices stay: other replicas keep serving the groups.
    await controllers?.stop();
    namespaces?.stop();
    cluster?.close();
    certAuthn?.close();
    await storage.close();
    log.info({}, "stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
