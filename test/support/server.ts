import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll } from "vitest";
import { parse } from "yaml";

export type Backend = "memory" | "postgres" | "etcd";

export interface StartOptions {
  backend: Backend;
  /** Extra flags (e.g. the database's address from startBackend). */
  args?: string[];
  env?: Record<string, string>;
  readyTimeoutMs?: number;
  /** Another checkout to run (its bin/reports-server, i.e. its dist/, from its directory); default this one. */
  root?: string;
}

export interface TestServer {
  /** https://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** Path of the kubeconfig the server wrote (CA + admin token). */
  readonly kubeconfig: string;
  readonly token: string;
  /** PEM of the CA that signed the serving certificate. */
  readonly ca: string;
  readonly certDir: string;
  /** SIGTERM, then wait for the exit (SIGKILL after 10 s). */
  stop(): Promise<void>;
  /** SIGKILL: a crash. */
  kill(): Promise<void>;
  /** Stops (if running) and starts again on the same port, cert dir and store. */
  restart(): Promise<void>;
  /** Everything the server wrote to stdout and stderr, across restarts. */
  logs(): string;
  /** The running process's id (to send it a signal of the test's choosing); undefined when stopped. */
  readonly pid: number | undefined;
  /** How the last run ended: its exit code, or the signal that killed it; undefined while running. */
  exitStatus(): number | NodeJS.Signals | undefined;
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const running = new Set<ChildProcess>();
const tempDirs = new Set<string>();

// A test run that dies must not leave servers or their files behind.
process.once("exit", () => {
  running.forEach((c) => c.kill("SIGKILL"));
  tempDirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface KubeconfigData {
  server: string;
  ca: string;
  token: string;
}

/** Reads what the tests need from the written kubeconfig (current context's cluster and user). */
export function readKubeconfig(path: string): KubeconfigData {
  interface Named<T> {
    name: string;
    [k: string]: T | string;
  }
  const doc = parse(readFileSync(path, "utf8")) as {
    "current-context"?: string;
    contexts: Named<{ cluster: string; user: string }>[];
    clusters: Named<{
      server: string;
      "certificate-authority-data"?: string;
      "certificate-authority"?: string;
    }>[];
    users: Named<{ token?: string }>[];
  };
  const ctx = (doc.contexts.find((c) => c.name === doc["current-context"]) ?? doc.contexts[0]).context as {
    cluster: string;
    user: string;
  };
  const cluster = (doc.clusters.find((c) => c.name === ctx.cluster) ?? doc.clusters[0]).cluster as {
    server: string;
    "certificate-authority-data"?: string;
    "certificate-authority"?: string;
  };
  const user = (doc.users.find((u) => u.name === ctx.user) ?? doc.users[0]).user as { token?: string };
  const ca = cluster["certificate-authority-data"]
    ? Buffer.from(cluster["certificate-authority-data"], "base64").toString("utf8")
    : readFileSync(cluster["certificate-authority"] ?? "", "utf8");
  if (!user.token) throw new Error(`kubeconfig ${path} has no token`);
  return { server: cluster.server, ca, token: user.token };
}

function readyz(url: string, ca: string): Promise<number> {
  return new Promise((resolve) => {
    const req = httpsRequest(new URL("/readyz", url), { ca, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(0));
    req.end();
  });
}

export async function startServer(opts: StartOptions): Promise<TestServer> {
  const root = opts.root ?? ROOT;
  const bin = join(root, "bin", "reports-server");
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`npm run build\` first`);
  const port = await freePort();
  const base = mkdtempSync(join(tmpdir(), `reports-server-${opts.backend}-`));
  tempDirs.add(base);
  const certDir = join(base, "certs");
  const kubeconfig = join(base, "kubeconfig");
  const args = [
    bin,
    `--storage-backend=${opts.backend}`,
    `--secure-port=${port}`,
    "--bind-address=127.0.0.1",
    `--cert-dir=${certDir}`,
    `--write-kubeconfig=${kubeconfig}`,
    ...(opts.args ?? []),
  ];
  let logs = "";
  let child: ChildProcess | undefined;
  let lastExit: number | NodeJS.Signals | undefined;
  let creds: KubeconfigData = { server: `https://127.0.0.1:${port}`, ca: "", token: "" };

  const launch = async () => {
    rmSync(kubeconfig, { force: true });
    // REPORTS_SERVER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the server alone.
    const nodeArgs = (process.env.REPORTS_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean);
    const c = spawn(process.execPath, [...nodeArgs, ...args], {
      cwd: root,
      env: { ...process.env, ...(opts.env ?? {}) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = c;
    lastExit = undefined;
    running.add(c);
    let exitInfo: string | undefined;
    c.stdout?.setEncoding("utf8").on("data", (d: string) => (logs += d));
    c.stderr?.setEncoding("utf8").on("data", (d: string) => (logs += d));
    c.on("exit", (code, signal) => {
      running.delete(c);
      lastExit = code ?? signal ?? undefined;
      exitInfo = `exited with ${code ?? signal}`;
    });
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
    for (;;) {
      if (exitInfo) throw new Error(`reports-server ${exitInfo} before it was ready:\n${logs}`);
      if (Date.now() > deadline) {
        c.kill("SIGKILL");
        throw new Error(`reports-server not ready after ${opts.readyTimeoutMs ?? 30_000} ms:\n${logs}`);
      }
      if (existsSync(kubeconfig)) {
        try {
          creds = readKubeconfig(kubeconfig);
          if ((await readyz(creds.server, creds.ca)) === 200) return;
        } catch {
          // The file may be half written: try again.
        }
      }
      await sleep(100);
    }
  };

  const terminate = async (signal: NodeJS.Signals) => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once("exit", () => r()));
    c.kill(signal);
    const t = setTimeout(() => c.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(t);
  };

  await launch();
  return {
    get url() {
      return creds.server;
    },
    port,
    kubeconfig,
    get token() {
      return creds.token;
    },
    get ca() {
      return creds.ca;
    },
    certDir,
    async stop() {
      await terminate("SIGTERM");
      rmSync(base, { recursive: true, force: true });
      tempDirs.delete(base);
    },
    kill: () => terminate("SIGKILL"),
    async restart() {
      await terminate("SIGTERM");
      await launch();
    },
    logs: () => logs,
    get pid() {
      return child?.exitCode === null && child.signalCode === null ? child.pid : undefined;
    },
    exitStatus: () => lastExit,
  };
}

/** A private store for a server and the flags that point the server at it. */
export interface BackendHandle {
  args: string[];
  env: Record<string, string>;
  stop(): Promise<void>;
  /**
   * Forgets all history up to now, as the store's own compaction would (etcd: a compaction through
   * etcd's API; PostgreSQL: the changelog pruning step with a zero window). Memory has no outside
   * handle: start its server with a small `--watch-history-size` instead.
   */
  compact?: () => Promise<void>;
  /** The store's processes now (none for memory), for the benchmark's CPU accounting. */
  pids?: () => number[];
}

/** Starts the private database a backend needs (nothing for memory). */
export async function startBackend(kind: Backend): Promise<BackendHandle> {
  if (kind === "memory") return { args: [], env: {}, stop: async () => {} };
  if (kind === "postgres") {
    const { startPostgres } = await import("./postgres.js");
    const pg = await startPostgres();
    return {
      args: [
        `--db-host=${pg.host}`,
        `--db-port=${pg.port}`,
        `--db-name=${pg.database}`,
        `--db-user=${pg.user}`,
      ],
      env: { DB_PASSWORD: pg.password },
      stop: () => pg.stop(),
      pids: () => pg.pids(),
      compact: async () => {
        const { default: postgres } = await import("postgres");
        const sql = postgres({
          host: pg.host,
          port: pg.port,
          user: pg.user,
          password: pg.password,
          database: pg.database,
          onnotice: () => {},
        });
        try {
          // The same statements as the server's changelog pruning (src/storage/postgres/changelog.ts).
          await sql.begin(async (tx) => {
            const [cut] = await tx<{ id: string | null }[]>`SELECT max(id)::text AS id FROM report_changelog`;
            if (!cut?.id) return;
            await tx`UPDATE report_compaction SET revision = greatest(revision, ${cut.id}::bigint)`;
            await tx`DELETE FROM report_changelog WHERE id <= ${cut.id}::bigint`;
          });
        } finally {
          await sql.end({ timeout: 5 });
        }
      },
    };
  }
  const { startEtcd } = await import("./etcd.js");
  const etcd = await startEtcd();
  return {
    args: [`--etcd-endpoints=${etcd.endpoints.join(",")}`],
    env: {},
    stop: () => etcd.stop(),
    pids: () => etcd.pids(),
    compact: async () => {
      const { Etcd3 } = await import("etcd3");
      const client = new Etcd3({ hosts: etcd.endpoints });
      try {
        const res = await client.kv.range({ key: Buffer.from("\0"), limit: "1" });
        await client.kv.compact({ revision: res.header.revision, physical: true });
      } finally {
        client.close();
      }
    },
  };
}

export interface ServerFixture {
  server(): TestServer;
  store(): BackendHandle;
}

/**
 * Registers beforeAll/afterAll that start the backend's store and one server on it, and stop both;
 * the getters are valid inside tests.
 */
export function useServer(
  backend: Backend,
  extra: { args?: string[]; env?: Record<string, string> } = {},
): ServerFixture {
  let server: TestServer | undefined;
  let store: BackendHandle | undefined;
  beforeAll(async () => {
    store = await startBackend(backend);
    server = await startServer({
      backend,
      args: [...store.args, ...(extra.args ?? [])],
      env: { ...store.env, ...(extra.env ?? {}) },
    });
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
    await store?.stop();
  }, 60_000);
  return {
    server: (): TestServer => {
      if (!server) throw new Error("the server did not start (see beforeAll)");
      return server;
    },
    store: (): BackendHandle => {
      if (!store) throw new Error("the store did not start (see beforeAll)");
      return store;
    },
  };
}
