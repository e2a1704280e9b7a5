import { afterAll, beforeAll } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import type { IncomingHttpHeaders } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { makeTestPki, type CertPair, type TestPki } from "../../support/certs.js";
import { CONFIGMAPS, FakeKubeApiServer, NAMESPACES, SECRETS } from "../../support/fake-kube-apiserver.js";
import { freePort } from "../../support/server.js";

/**
 * Cluster mode end to end: the real `bin/reports-server` process with `--kubeconfig` pointing at the
 * kube-apiserver stand-in, which holds the authentication ConfigMap, answers TokenReviews and
 * SubjectAccessReviews, and keeps the APIServices, the Lease and CRD-stored reports.
 */

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const BIN = join(ROOT, "bin", "reports-server");
const running = new Set<ChildProcess>();
process.once("exit", () => running.forEach((c) => c.kill("SIGKILL")));

export const SA_TOKEN = "reports-server-sa-token";
export const CLUSTER_NAMESPACES = ["default", "kube-system", "reports-server", "team-a", "team-b", "team-c"];
export const AUTHN_CM = { namespace: "kube-system", name: "extension-apiserver-authentication" };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface StandIn {
  fake: FakeKubeApiServer;
  pki: TestPki;
  /** Scratch directory removed by stop(). */
  dir: string;
  /** The kubeconfig the server uses to reach the stand-in (its service account token). */
  kubeconfig: string;
  /** Replace the ConfigMap's data, as kube-apiserver does when its flags or CA files change. */
  setAuthnConfigMap(data: Record<string, string>): void;
  stop(): Promise<void>;
}

/** The ConfigMap data kube-apiserver publishes for a cluster with these CAs. */
export function authnConfigMapData(requestHeaderCa: string, clientCa: string): Record<string, string> {
  return {
    "client-ca-file": clientCa,
    "requestheader-client-ca-file": requestHeaderCa,
    "requestheader-allowed-names": '["front-proxy-client"]',
    "requestheader-username-headers": '["X-Remote-User"]',
    "requestheader-group-headers": '["X-Remote-Group"]',
    "requestheader-extra-headers-prefix": '["X-Remote-Extra-"]',
  };
}

export async function startStandIn(): Promise<StandIn> {
  const pki = await makeTestPki();
  const fake = await new FakeKubeApiServer({ serving: pki.serving, clientToken: SA_TOKEN }).start();
  const dir = mkdtempSync(join(tmpdir(), "cluster-e2e-"));
  const kubeconfig = join(dir, "server.kubeconfig");
  writeKubeconfig(kubeconfig, { server: fake.url, ca: pki.servingCa.cert, token: SA_TOKEN });
  const setAuthnConfigMap = (data: Record<string, string>) =>
    fake.putObject(CONFIGMAPS, { metadata: { ...AUTHN_CM }, data });
  setAuthnConfigMap(authnConfigMapData(pki.requestHeaderCa.cert, pki.clientCa.cert));
  // the namespaces the tests write into exist, as in a cluster
  for (const name of CLUSTER_NAMESPACES) {
    fake.putObject(NAMESPACES, { metadata: { name }, status: { phase: "Active" } });
  }
  return {
    fake,
    pki,
    dir,
    kubeconfig,
    setAuthnConfigMap,
    async stop() {
      await fake.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface KubeconfigUser {
  server: string;
  ca: string;
  token?: string;
  cert?: CertPair;
}

/** A kubeconfig as a user of the cluster would have it: bearer token or client certificate. */
export function writeKubeconfig(path: string, u: KubeconfigUser): string {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const user: Record<string, string> = {};
  if (u.token) user.token = u.token;
  if (u.cert) {
    user["client-certificate-data"] = b64(u.cert.cert);
    user["client-key-data"] = b64(u.cert.key);
  }
  writeFileSync(
    path,
    stringify({
      apiVersion: "v1",
      kind: "Config",
      "current-context": "c",
      contexts: [{ name: "c", context: { cluster: "k", user: "u" } }],
      clusters: [{ name: "k", cluster: { server: u.server, "certificate-authority-data": b64(u.ca) } }],
      users: [{ name: "u", user }],
    }),
  );
  return path;
}

export interface ClusterServerOptions {
  standIn: StandIn;
  args?: string[];
  env?: Record<string, string>;
  /** Default memory; pass the store's flags in `args` for etcd or PostgreSQL. */
  backend?: "memory" | "postgres" | "etcd";
  /** Reuse a serving CA across servers (replicas share one in a real Deployment's Secret). */
  certDir?: string;
  readyTimeoutMs?: number;
}

export interface ClusterServer {
  readonly url: string;
  readonly port: number;
  /** PEM of the serving CA (what the APIServices' caBundle must hold). */
  readonly ca: string;
  readonly certDir: string;
  /** Everything written to stdout/stderr. */
  logs(): string;
  /** The JSON log records whose `msg` is `msg`. */
  logRecords(msg: string): Record<string, unknown>[];
  exited(): boolean;
  /** SIGTERM and wait for the exit (SIGKILL after 10 s). */
  stop(): Promise<void>;
  /** SIGKILL: a crash or a lost node. */
  kill(): Promise<void>;
}

function readyz(url: string, ca: string): Promise<number> {
  return new Promise((resolve) => {
    const req = httpsRequest(new URL("/readyz", url), { ca, timeout: 2_000, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(0));
    req.end();
  });
}

/** The CA in the Secret through which the replicas share their serving certificate, once written. */
function sharedCa(standIn: StandIn, name: string): string {
  const secret = standIn.fake.getObject(SECRETS, "reports-server", name) as
    { data?: Record<string, string> } | undefined;
  const ca = secret?.data?.["ca.crt"];
  return ca ? Buffer.from(ca, "base64").toString("utf8") : "";
}

/** Starts `bin/reports-server` in cluster mode against the stand-in and waits for /readyz. */
export async function startClusterServer(opts: ClusterServerOptions): Promise<ClusterServer> {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` first`);
  const port = await freePort();
  const certDir = opts.certDir ?? join(opts.standIn.dir, `certs-${port}`);
  mkdirSync(certDir, { recursive: true });
  const args = [
    BIN,
    `--storage-backend=${opts.backend ?? "memory"}`,
    `--secure-port=${port}`,
    "--bind-address=127.0.0.1",
    `--cert-dir=${certDir}`,
    `--kubeconfig=${opts.standIn.kubeconfig}`,
    "--service-namespace=reports-server",
    "--service-name=reports-server",
    // one certificate per process in its cert dir, unless the test asks for the shared Secret
    "--serving-cert-secret=",
    ...(opts.args ?? []),
  ];
  const secretName = args
    .filter((a) => a.startsWith("--serving-cert-secret="))
    .at(-1)!
    .slice("--serving-cert-secret=".length);
  const env: NodeJS.ProcessEnv = { ...process.env, ...(opts.env ?? {}) };
  // Not a pod: only --kubeconfig decides.
  delete env.KUBERNETES_SERVICE_HOST;
  delete env.KUBERNETES_SERVICE_PORT;
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  let logs = "";
  let exitInfo: string | undefined;
  child.stdout.setEncoding("utf8").on("data", (d: string) => (logs += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (logs += d));
  // "close", not "exit": by then everything the server wrote has been read.
  const exited = new Promise<void>((resolve) =>
    child.on("close", (code, signal) => {
      running.delete(child);
      exitInfo = `exited with ${code ?? signal}`;
      resolve();
    }),
  );
  const url = `https://127.0.0.1:${port}`;
  const caFile = join(certDir, "ca.crt");
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  let ca = "";
  for (;;) {
    if (exitInfo) throw new Error(`reports-server ${exitInfo} before it was ready:\n${logs}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`reports-server not ready in time:\n${logs}`);
    }
    if (!ca && secretName) ca = sharedCa(opts.standIn, secretName);
    // a replica that cannot use the Secret generates its own, in its cert dir
    if (!ca && existsSync(caFile)) ca = readFileSync(caFile, "utf8");
    if (ca && (await readyz(url, ca)) === 200) break;
    await sleep(100);
  }
  const terminate = async (signal: NodeJS.Signals) => {
    if (exitInfo) return;
    child.kill(signal);
    const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(t);
  };
  return {
    url,
    port,
    ca,
    certDir,
    logs: () => logs,
    logRecords: (msg) =>
      logs
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => {
          try {
            return JSON.parse(l) as Record<string, unknown>;
          } catch {
            return {};
          }
        })
        .filter((r) => r.msg === msg),
    exited: () => exitInfo !== undefined,
    stop: () => terminate("SIGTERM"),
    kill: () => terminate("SIGKILL"),
  };
}

export interface Call {
  method?: string;
  token?: string;
  /** Client certificate to present (a user's, or the front proxy's). */
  cert?: CertPair;
  headers?: Record<string, string | string[]>;
  body?: unknown;
}

export interface CallResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  json<T = Record<string, unknown>>(): T;
}

/** One raw HTTPS request on a fresh connection (each call presents its own certificate). */
export function call(server: ClusterServer, path: string, c: Call = {}): Promise<CallResult> {
  const headers: Record<string, string | string[]> = { ...(c.headers ?? {}) };
  if (c.token) headers.Authorization = `Bearer ${c.token}`;
  const payload = c.body === undefined ? undefined : Buffer.from(JSON.stringify(c.body));
  if (payload) {
    headers["Content-Type"] ??= "application/json";
    headers["Content-Length"] = String(payload.length);
  }
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      new URL(path, server.url),
      {
        method: c.method ?? "GET",
        headers,
        ca: server.ca,
        cert: c.cert?.cert,
        key: c.cert?.key,
        agent: false,
        timeout: 15_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (d: Buffer) => chunks.push(d));
        res.on("error", reject);
        res.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8");
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            json<T>() {
              return JSON.parse(body) as T;
            },
          });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${path}: timed out`)));
    req.on("error", reject);
    req.end(payload);
  });
}

/** Polls `check` until it returns a value other than undefined, or fails with `what` after `ms`. */
export async function eventually<T>(
  what: string,
  ms: number,
  check: () => T | undefined | Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(100);
  }
}

/**
 * A stand-in and a server in cluster mode for the tests of one file: `prepare` sets up the
 * stand-in (users, RBAC decisions) before the server starts; both stop after the file.
 */
export function useClusterServer(
  prepare: (standIn: StandIn) => void = () => {},
  args: string[] = [],
): {
  standIn: () => StandIn;
  server: () => ClusterServer;
} {
  let standIn: StandIn | undefined;
  let server: ClusterServer | undefined;
  beforeAll(async () => {
    standIn = await startStandIn();
    prepare(standIn);
    server = await startClusterServer({ standIn, args });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    await standIn?.stop();
  }, 30_000);
  return { standIn: () => standIn!, server: () => server! };
}
