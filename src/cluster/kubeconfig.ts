import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { parse } from "yaml";
import { isPlainObject } from "../apimachinery/types.js";

/** How to reach a kube-apiserver: what a kubeconfig context or the pod's service account says. */
export interface KubeConnection {
  /** https://host:port */
  server: string;
  /** PEM of the CA that signs the server's certificate (system roots when absent). */
  ca?: string;
  insecureSkipTLSVerify?: boolean;
  /** Client certificate and key (PEM). */
  cert?: string;
  key?: string;
  token?: string;
  /** Read on every request: projected service account tokens rotate. */
  tokenFile?: string;
}

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** The environment values in-cluster configuration needs; main passes them (nothing here reads env). */
export interface InClusterEnv {
  KUBERNETES_SERVICE_HOST?: string;
  KUBERNETES_SERVICE_PORT?: string;
}

type Obj = Record<string, unknown>;

function str(o: Obj, k: string): string | undefined {
  const v = o[k];
  return typeof v === "string" && v !== "" ? v : undefined;
}

function named(list: unknown, name: string, field: string): Obj | undefined {
  if (!Array.isArray(list)) return undefined;
  const entry = list.find((e) => isPlainObject(e) && e.name === name);
  return isPlainObject(entry) && isPlainObject(entry[field]) ? entry[field] : undefined;
}

/** Reads `<key>-data` (base64) or `<key>` (a path relative to the kubeconfig) as text. */
function dataOrFile(o: Obj, key: string, base: string): string | undefined {
  const data = str(o, `${key}-data`);
  if (data) return Buffer.from(data, "base64").toString("utf8");
  const file = str(o, key);
  return file ? readFileSync(isAbsolute(file) ? file : join(base, file), "utf8") : undefined;
}

/** The current context of a kubeconfig file (token, client certificate, CA; no exec plugins). */
export function loadKubeconfig(path: string, context?: string): KubeConnection {
  const doc: unknown = parse(readFileSync(path, "utf8"));
  if (!isPlainObject(doc)) throw new Error(`kubeconfig ${path}: not a YAML object`);
  const ctxName = context ?? str(doc, "current-context");
  if (!ctxName) throw new Error(`kubeconfig ${path}: no current-context`);
  const ctx = named(doc.contexts, ctxName, "context");
  if (!ctx) throw new Error(`kubeconfig ${path}: context "${ctxName}" not found`);
  const cluster = named(doc.clusters, str(ctx, "cluster") ?? "", "cluster");
  if (!cluster || !str(cluster, "server"))
    throw new Error(`kubeconfig ${path}: cluster of "${ctxName}" has no server`);
  const user = named(doc.users, str(ctx, "user") ?? "", "user") ?? {};
  if (user.exec || user["auth-provider"]) {
    throw new Error(
      `kubeconfig ${path}: exec and auth-provider credentials are not supported; use a token or certificate`,
    );
  }
  const base = dirname(path);
  const conn: KubeConnection = { server: str(cluster, "server") as string };
  const ca = dataOrFile(cluster, "certificate-authority", base);
  if (ca) conn.ca = ca;
  if (cluster["insecure-skip-tls-verify"] === true) conn.insecureSkipTLSVerify = true;
  const cert = dataOrFile(user, "client-certificate", base);
  const key = dataOrFile(user, "client-key", base);
  if (cert && key) Object.assign(conn, { cert, key });
  const token = str(user, "token");
  if (token) conn.token = token;
  const tokenFile = str(user, "tokenFile");
  if (!token && tokenFile) conn.tokenFile = isAbsolute(tokenFile) ? tokenFile : join(base, tokenFile);
  return conn;
}

/** The pod's service account, or undefined when not running in a pod. */
export function loadInCluster(
  env: InClusterEnv,
  dir: string = SERVICE_ACCOUNT_DIR,
): KubeConnection | undefined {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port || !existsSync(join(dir, "token"))) return undefined;
  const hostPart = host.includes(":") ? `[${host}]` : host;
  const conn: KubeConnection = { server: `https://${hostPart}:${port}`, tokenFile: join(dir, "token") };
  if (existsSync(join(dir, "ca.crt"))) conn.ca = readFileSync(join(dir, "ca.crt"), "utf8");
  return conn;
}

/** `--kubeconfig` when given, else the service account in a pod, else undefined (standalone mode). */
export function resolveConnection(
  kubeconfig: string | undefined,
  env: InClusterEnv,
  serviceAccountDir?: string,
): KubeConnection | undefined {
  if (kubeconfig) return loadKubeconfig(kubeconfig);
  return loadInCluster(env, serviceAccountDir);
}

/** The namespace of the pod's service account, when there is one (a default for --service-namespace). */
export function inClusterNamespace(dir: string = SERVICE_ACCOUNT_DIR): string | undefined {
  const f = join(dir, "namespace");
  return existsSync(f) ? readFileSync(f, "utf8").trim() || undefined : undefined;
}
