import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, statSync } from "node:fs";
import { get as httpsGet } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Etcd3 } from "etcd3";
import { afterAll, beforeAll } from "vitest";
import { freeze, thaw } from "./freeze.js";

/**
 * A private etcd for tests: installed from Debian (`etcd-server`) when missing, one member on random
 * loopback ports (client and peer), its data under /dev/shm, removed on stop. Tests may crash it
 * (kill), bring it back on the same ports and data (start), or freeze it (pause) to see how the
 * server behaves when etcd goes away mid-traffic.
 *
 * Progress notifications come every second (etcd's default is 10 minutes) so watch bookmarks show
 * up within a test's patience; production operators set the same flag (docs/OPERATIONS.md).
 */

const ETCD = process.env.ETCD_BIN ?? "/usr/bin/etcd";

export interface PrivateEtcd {
  /** Client URLs, e.g. `["http://127.0.0.1:40123"]`. */
  endpoints: string[];
  clientPort: number;
  peerPort: number;
  dataDir: string;
  /** Stops etcd and removes its data. Safe to call twice. */
  stop(): Promise<void>;
  /** Crash: SIGKILL, data kept; start() brings it back on the same ports and data directory. */
  kill(): Promise<void>;
  /** Starts etcd again (after kill) and waits until it is healthy. */
  start(): Promise<void>;
  /** Freezes etcd (SIGSTOP), once all its threads have stopped: connections hang instead of failing. */
  pause(): Promise<void>;
  /** Undoes pause(). */
  resume(): void;
  /** The etcd process, while it runs (for the benchmark's CPU accounting). */
  pids(): number[];
}

export interface StartEtcdOptions {
  /** etcd's --experimental-watch-progress-notify-interval, in ms (default 1,000). */
  progressNotifyIntervalMs?: number;
  /**
   * Serve clients over TLS with this certificate (it must be valid for 127.0.0.1), and with
   * `trustedCaFile`, require client certificates signed by that CA (--client-cert-auth).
   */
  tls?: { certFile: string; keyFile: string; trustedCaFile?: string };
}

export async function startEtcd(options: StartEtcdOptions = {}): Promise<PrivateEtcd> {
  await ensureEtcdInstalled();
  const base = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
  for (let attempt = 1; ; attempt++) {
    const dataDir = mkdtempSync(join(base, "reports-server-etcd-"));
    const clientPort = await freePort();
    const peerPort = await freePort();
    const etcd = new EtcdProcess(dataDir, clientPort, peerPort, options);
    try {
      await etcd.start();
      return etcd;
    } catch (err) {
      await etcd.stop();
      // another process may have taken a port between our probe and etcd's bind
      if (attempt >= 3) throw err;
    }
  }
}

class EtcdProcess implements PrivateEtcd {
  readonly endpoints: string[];
  private child: ChildProcess | undefined;
  private output = "";
  private stopped = false;
  private readonly killOnExit = () => this.child?.kill("SIGKILL");

  constructor(
    readonly dataDir: string,
    readonly clientPort: number,
    readonly peerPort: number,
    private readonly options: StartEtcdOptions,
  ) {
    this.endpoints = [`${options.tls ? "https" : "http"}://127.0.0.1:${clientPort}`];
  }

  async start(): Promise<void> {
    if (this.child) throw new Error("etcd is already running");
    const client = this.endpoints[0];
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const tls = this.options.tls;
    const tlsFlags = tls
      ? [
          `--cert-file=${tls.certFile}`,
          `--key-file=${tls.keyFile}`,
          ...(tls.trustedCaFile ? [`--trusted-ca-file=${tls.trustedCaFile}`, "--client-cert-auth"] : []),
        ]
      : [];
    this.output = "";
    const child = spawn(
      ETCD,
      [
        "--name=test",
        `--data-dir=${this.dataDir}`,
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=test=${peer}`,
        "--initial-cluster-state=new",
        `--experimental-watch-progress-notify-interval=${this.options.progressNotifyIntervalMs ?? 1_000}ms`,
        ...tlsFlags,
        "--logger=zap",
        "--log-level=error",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    this.child = child;
    process.once("exit", this.killOnExit);
    const keep = (d: Buffer) => (this.output = (this.output + d.toString()).slice(-4000));
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    child.once("exit", () => {
      if (this.child === child) this.child = undefined;
      process.removeListener("exit", this.killOnExit);
    });
    await this.waitHealthy(child);
  }

  async kill(): Promise<void> {
    await this.signalAndWait("SIGKILL");
  }

  pause(): Promise<void> {
    return freeze(this.pids());
  }

  resume(): void {
    thaw(this.pids());
  }

  pids(): number[] {
    const pid = this.child?.pid;
    return pid === undefined ? [] : [pid];
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.resume();
    await this.signalAndWait("SIGTERM");
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  private async signalAndWait(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }

  /** etcd's /health, over TLS with the server's own certificate as the client's when asked to. */
  private async health(): Promise<{ health?: string }> {
    const tls = this.options.tls;
    if (!tls) {
      const res = await fetch(`${this.endpoints[0]}/health`, { signal: AbortSignal.timeout(1_000) });
      return (await res.json()) as { health?: string };
    }
    return new Promise((resolve, reject) => {
      const req = httpsGet(
        `${this.endpoints[0]}/health`,
        {
          cert: readFileSync(tls.certFile),
          key: readFileSync(tls.keyFile),
          rejectUnauthorized: false,
          timeout: 1_000,
        },
        (res) => {
          let body = "";
          res.on("data", (d: Buffer) => (body += d.toString()));
          res.on("end", () => resolve(JSON.parse(body) as { health?: string }));
        },
      );
      req.on("error", reject);
      req.on("timeout", () => req.destroy(new Error("timeout")));
    });
  }

  private async waitHealthy(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`etcd exited (${child.exitCode ?? child.signalCode}): ${this.output}`);
      try {
        if ((await this.health()).health === "true") return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`etcd did not become healthy within 30 s: ${this.output}`);
  }
}

/**
 * Installs etcd from the distribution when it is missing: `apt-get install`, and only if that fails
 * (stale package lists), `apt-get update` and once more. Test files run in parallel processes, so a
 * lock directory keeps them from fighting over dpkg's lock.
 */
async function ensureEtcdInstalled(): Promise<void> {
  if (existsSync(ETCD)) return;
  const lock = join(tmpdir(), "reports-server-etcd-install.lock");
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (existsSync(ETCD)) return;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
      // a test process that died while installing leaves its lock behind
      const held = statSync(lock, { throwIfNoEntry: false });
      if (held && Date.now() - held.mtimeMs > 5 * 60_000) rmSync(lock, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
  try {
    if (existsSync(ETCD)) return;
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    const install = () => spawnSync("apt-get", ["install", "-y", "etcd-server"], { env, encoding: "utf8" });
    let result = install();
    if (result.status !== 0) {
      spawnSync("apt-get", ["update"], { env, encoding: "utf8" });
      result = install();
    }
    if (result.status !== 0 || !existsSync(ETCD))
      throw new Error(`could not install etcd-server: ${result.stderr || result.error?.message}`);
  } finally {
    rmdirSync(lock);
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A private etcd for one test file, and a raw client on it: started before the file's tests, both
 * closed after them. `use` receives them once started.
 */
export function usePrivateEtcd(use: (etcd: PrivateEtcd, raw: Etcd3) => void): void {
  let etcd: PrivateEtcd | undefined;
  let raw: Etcd3 | undefined;
  beforeAll(async () => {
    etcd = await startEtcd();
    raw = new Etcd3({ hosts: etcd.endpoints });
    use(etcd, raw);
  });
  afterAll(async () => {
    raw?.close();
    await etcd?.stop();
  });
}
