import { readFileSync } from "node:fs";
import { Command, InvalidArgumentError, Option } from "commander";

/**
 * Flags and environment, read in one place (DESIGN: nothing else reads process.argv or process.env).
 * Flag names follow kube-apiserver and the Go reports-server so operators can carry their manifests over.
 */
export interface Config {
  storageBackend: "memory" | "postgres" | "etcd";
  securePort: number;
  bindAddress: string;
  certDir: string;
  servingCertSecret: string;
  tlsCertFile?: string;
  tlsPrivateKeyFile?: string;
  /** The CA that signed --tls-cert-file (for the APIService caBundle); default: ca.crt beside the certificate. */
  tlsCaFile?: string;
  tlsMinVersion: string;
  tlsCipherSuites: string[];
  writeKubeconfig?: string;
  logLevel: string;
  logFormat: "json" | "text";
  clusterName: string;

  db: {
    host: string;
    port: number;
    database: string;
    user: string;
    password?: string;
    sslmode: "disable" | "prefer" | "require" | "verify-ca" | "verify-full";
    sslrootcert?: string;
    sslcert?: string;
    sslkey?: string;
    maxOpenConns: number;
    skipMigrations: boolean;
  };
  etcd: {
    endpoints: string[];
    prefix: string;
    caFile?: string;
    certFile?: string;
    keyFile?: string;
    compactionIntervalMs: number;
  };

  kubeconfig?: string;
  inCluster: { host?: string; port?: string };
  serviceName: string;
  serviceNamespace: string;
  servicePort: number;
  serveGroups: string[];
  skipMigration: boolean;
  /** Leader election on the Lease, as kube-controller-manager's --leader-elect-* flags. */
  leaderElect: { leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number };
  requestheader: {
    clientCAFile?: string;
    allowedNames: string[];
    usernameHeaders: string[];
    groupHeaders: string[];
    extraHeadersPrefix: string[];
  };
  clientCAFile?: string;
  authenticationKubeconfig?: string;
  authenticationTokenWebhookCacheTtlMs: number;
  authenticationTolerateLookupFailure: boolean;
  authorizationKubeconfig?: string;
  authorizationAlwaysAllowPaths: string[];
  authorizationWebhookCacheAuthorizedTtlMs: number;
  authorizationWebhookCacheUnauthorizedTtlMs: number;

  maxRequestsInflight: number;
  maxMutatingRequestsInflight: number;
  requestTimeoutMs: number;
  minRequestTimeoutMs: number;
  maxWatches: number;
  maxPageSize: number;
  watchHistorySize: number;
  dbHistoryWindowSeconds: number;
  shutdownDelayMs: number;
}

function int(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0)
      throw new InvalidArgumentError(`${name} must be a non-negative integer`);
    return n;
  };
}

/** Kubernetes-style durations: 5m, 30s, 1h30m, 250ms, or bare seconds. */
export function parseDuration(v: string): number {
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  let consumed = 0;
  for (const m of v.matchAll(re)) {
    const n = Number(m[1]);
    total += m[2] === "h" ? n * 3600_000 : m[2] === "m" ? n * 60_000 : m[2] === "s" ? n * 1000 : n;
    consumed += m[0].length;
  }
  if (consumed !== v.length || v.length === 0) throw new InvalidArgumentError(`invalid duration "${v}"`);
  return total;
}

/** A duration as Go's time.Duration prints it (kube-apiserver's help shows defaults so): 1m0s, 10s, 250ms. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/** A duration flag; help shows its default as a duration, since a bare number means seconds. */
function duration(flags: string, description: string, defaultMs: number): Option {
  return new Option(flags, description)
    .argParser(parseDuration)
    .default(defaultMs, formatDuration(defaultMs));
}

const list = (v: string): string[] =>
  v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

function program(env: NodeJS.ProcessEnv): Command {
  const num = (n: string | undefined, d: number) => (n !== undefined && n !== "" ? Number(n) : d);
  return new Command("reports-server")
    .description("Kubernetes aggregated API server for policy reports (PostgreSQL, etcd or memory storage)")
    .helpOption("-h, --help")
    .addOption(
      new Option("--storage-backend <backend>", "where reports are stored")
        .choices(["memory", "postgres", "etcd"])
        .default("memory"),
    )
    .option("--secure-port <port>", "HTTPS port", int("--secure-port"), 4443)
    .option("--bind-address <ip>", "address to listen on", "0.0.0.0")
    .option(
      "--cert-dir <dir>",
      "where the self-signed serving certificate is generated",
      "apiserver.local.config/certificates",
    )
    .option(
      "--serving-cert-secret <name>",
      "in a cluster without --tls-cert-file: the Secret (in --service-namespace) through which the replicas share one self-signed certificate; empty for one per replica in --cert-dir",
      "reports-server-self-signed-cert",
    )
    .option("--tls-cert-file <file>", "serving certificate (PEM); reloaded when it changes")
    .option("--tls-private-key-file <file>", "serving private key (PEM)")
    .option("--tls-ca-file <file>", "CA of the serving certificate (default: ca.crt beside --tls-cert-file)")
    .option("--tls-min-version <v>", "VersionTLS12 or VersionTLS13", "VersionTLS12")
    .option("--tls-cipher-suites <list>", "comma-separated cipher suites (OpenSSL names)", list, [])
    .option("--write-kubeconfig <path>", "standalone mode: write an admin kubeconfig for this server here")
    .addOption(
      new Option("--log-level <level>", "log level")
        .choices(["trace", "debug", "info", "warn", "error"])
        .default("info"),
    )
    .addOption(new Option("--log-format <format>", "log format").choices(["json", "text"]).default("json"))
    .option("--cluster-name <name>", "cluster key in a shared store", "default")
    .option("--db-host <host>", "PostgreSQL host (env DB_HOST)", env.DB_HOST ?? "localhost")
    .option("--db-port <port>", "PostgreSQL port (env DB_PORT)", int("--db-port"), num(env.DB_PORT, 5432))
    .option(
      "--db-name <name>",
      "PostgreSQL database (env DB_DATABASE or DB_NAME)",
      env.DB_DATABASE ?? env.DB_NAME ?? "reportsdb",
    )
    .option("--db-user <user>", "PostgreSQL user (env DB_USER)", env.DB_USER ?? "postgres")
    .option("--db-password-file <file>", "file holding the PostgreSQL password (else env DB_PASSWORD)")
    .addOption(
      new Option("--db-sslmode <mode>", "PostgreSQL TLS mode")
        .choices(["disable", "prefer", "require", "verify-ca", "verify-full"])
        .default(env.DB_SSLMODE ?? "disable"),
    )
    .option("--db-sslrootcert <file>", "CA for verify-ca/verify-full")
    .option("--db-sslcert <file>", "client certificate")
    .option("--db-sslkey <file>", "client key")
    .option("--db-max-open-conns <n>", "connection pool size", int("--db-max-open-conns"), 20)
    .option("--skip-migrations", "do not apply database migrations at startup", false)
    .option("--etcd-endpoints <urls>", "comma-separated etcd URLs", list, ["http://127.0.0.1:2379"])
    .option("--etcd-prefix <prefix>", "key prefix", "/reports-server")
    .option("--etcd-cafile <file>", "CA for etcd TLS")
    .option("--etcd-certfile <file>", "client certificate for etcd")
    .option("--etcd-keyfile <file>", "client key for etcd")
    .addOption(
      duration("--etcd-compaction-interval <d>", "how often to compact old revisions (0 = off)", 300_000),
    )
    .option("--kubeconfig <file>", "kube-apiserver to register with (empty: in-cluster service account)")
    .option("--service-name <name>", "the Service the APIServices point at", "reports-server")
    .option("--service-namespace <ns>", "namespace of that Service", env.POD_NAMESPACE ?? "reports-server")
    .option("--service-port <port>", "port of that Service", int("--service-port"), 443)
    .option(
      "--serve-groups <groups>",
      "API groups to serve and register (default: every group in resources/crds)",
      list,
      [],
    )
    .option(
      "--skip-migration",
      "do not copy CRD-stored reports into the store before taking a group over",
      false,
    )
    .addOption(
      duration(
        "--leader-elect-lease-duration <d>",
        "how long a Lease holder that stopped renewing keeps the lead",
        15_000,
      ),
    )
    .addOption(
      duration(
        "--leader-elect-renew-deadline <d>",
        "the leader steps down after failing to renew this long",
        10_000,
      ),
    )
    .addOption(
      duration("--leader-elect-retry-period <d>", "how often to try to acquire or renew the Lease", 2_000),
    )
    .option("--requestheader-client-ca-file <file>", "CA for the front-proxy client certificate")
    .option("--requestheader-allowed-names <names>", "allowed front-proxy common names", list, [])
    .option("--requestheader-username-headers <h>", "user headers", list, ["X-Remote-User"])
    .option("--requestheader-group-headers <h>", "group headers", list, ["X-Remote-Group"])
    .option("--requestheader-extra-headers-prefix <h>", "extra headers prefixes", list, ["X-Remote-Extra-"])
    .option("--client-ca-file <file>", "CA for client certificates")
    .option("--authentication-kubeconfig <file>", "kube-apiserver for TokenReview")
    .addOption(duration("--authentication-token-webhook-cache-ttl <d>", "TokenReview cache", 10_000))
    .option(
      "--authentication-tolerate-lookup-failure",
      "start even when kube-system/extension-apiserver-authentication cannot be read",
      false,
    )
    .option("--authorization-kubeconfig <file>", "kube-apiserver for SubjectAccessReview")
    .option("--authorization-always-allow-paths <paths>", "paths that skip authorization", list, [
      "/healthz",
      "/readyz",
      "/livez",
    ])
    .addOption(duration("--authorization-webhook-cache-authorized-ttl <d>", "allow cache", 10_000))
    .addOption(duration("--authorization-webhook-cache-unauthorized-ttl <d>", "deny cache", 10_000))
    .option(
      "--max-requests-inflight <n>",
      "non-mutating requests at once (429 beyond)",
      int("--max-requests-inflight"),
      400,
    )
    .option(
      "--max-mutating-requests-inflight <n>",
      "mutating requests at once (429 beyond)",
      int("--max-mutating-requests-inflight"),
      200,
    )
    .addOption(duration("--request-timeout <d>", "non-watch request timeout (504 beyond)", 60_000))
    .addOption(duration("--min-request-timeout <d>", "watches last a random 1-2x this", 1_800_000))
    .option("--max-watches <n>", "open watches per server (429 beyond)", int("--max-watches"), 10_000)
    .option("--max-page-size <n>", "largest list page served at once", int("--max-page-size"), 1000)
    .option(
      "--watch-history-size <n>",
      "memory backend: changes kept for watch resume",
      int("--watch-history-size"),
      10_000,
    )
    .addOption(
      duration(
        "--db-history-window <d>",
        "PostgreSQL: how long changes are kept for watch resume (older → 410 Expired)",
        600_000,
      ),
    )
    .addOption(
      duration("--shutdown-delay-duration <d>", "on SIGTERM, fail /readyz this long before closing", 0),
    );
}

export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): Config {
  const cmd = program(env);
  cmd.parse(argv, { from: "user" });
  const o = cmd.opts();
  const password = o.dbPasswordFile ? readFileSync(String(o.dbPasswordFile), "utf8").trim() : env.DB_PASSWORD;
  return {
    storageBackend: o.storageBackend,
    securePort: o.securePort,
    bindAddress: o.bindAddress,
    certDir: o.certDir,
    servingCertSecret: o.servingCertSecret,
    tlsCertFile: o.tlsCertFile,
    tlsPrivateKeyFile: o.tlsPrivateKeyFile,
    tlsCaFile: o.tlsCaFile,
    tlsMinVersion: o.tlsMinVersion,
    tlsCipherSuites: o.tlsCipherSuites,
    writeKubeconfig: o.writeKubeconfig,
    logLevel: o.logLevel,
    logFormat: o.logFormat,
    clusterName: o.clusterName,
    db: {
      host: o.dbHost,
      port: o.dbPort,
      database: o.dbName,
      user: o.dbUser,
      password,
      sslmode: o.dbSslmode,
      sslrootcert: o.dbSslrootcert,
      sslcert: o.dbSslcert,
      sslkey: o.dbSslkey,
      maxOpenConns: o.dbMaxOpenConns,
      skipMigrations: o.skipMigrations,
    },
    etcd: {
      endpoints: o.etcdEndpoints,
      prefix: o.etcdPrefix,
      caFile: o.etcdCafile,
      certFile: o.etcdCertfile,
      keyFile: o.etcdKeyfile,
      compactionIntervalMs: o.etcdCompactionInterval,
    },
    kubeconfig: o.kubeconfig,
    inCluster: { host: env.KUBERNETES_SERVICE_HOST, port: env.KUBERNETES_SERVICE_PORT },
    serviceName: o.serviceName,
    serviceNamespace: o.serviceNamespace,
    servicePort: o.servicePort,
    serveGroups: o.serveGroups,
    skipMigration: o.skipMigration,
    leaderElect: {
      leaseDurationMs: o.leaderElectLeaseDuration,
      renewDeadlineMs: o.leaderElectRenewDeadline,
      retryPeriodMs: o.leaderElectRetryPeriod,
    },
    requestheader: {
      clientCAFile: o.requestheaderClientCaFile,
      allowedNames: o.requestheaderAllowedNames,
      usernameHeaders: o.requestheaderUsernameHeaders,
      groupHeaders: o.requestheaderGroupHeaders,
      extraHeadersPrefix: o.requestheaderExtraHeadersPrefix,
    },
    clientCAFile: o.clientCaFile,
    authenticationKubeconfig: o.authenticationKubeconfig,
    authenticationTokenWebhookCacheTtlMs: o.authenticationTokenWebhookCacheTtl,
    authenticationTolerateLookupFailure: o.authenticationTolerateLookupFailure,
    authorizationKubeconfig: o.authorizationKubeconfig,
    authorizationAlwaysAllowPaths: o.authorizationAlwaysAllowPaths,
    authorizationWebhookCacheAuthorizedTtlMs: o.authorizationWebhookCacheAuthorizedTtl,
    authorizationWebhookCacheUnauthorizedTtlMs: o.authorizationWebhookCacheUnauthorizedTtl,
    maxRequestsInflight: o.maxRequestsInflight,
    maxMutatingRequestsInflight: o.maxMutatingRequestsInflight,
    requestTimeoutMs: o.requestTimeout,
    minRequestTimeoutMs: o.minRequestTimeout,
    maxWatches: o.maxWatches,
    maxPageSize: o.maxPageSize,
    watchHistorySize: o.watchHistorySize,
    dbHistoryWindowSeconds: Math.ceil(o.dbHistoryWindow / 1000),
    shutdownDelayMs: o.shutdownDelayDuration,
  };
}
