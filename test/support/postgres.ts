import { spawn, spawnSync } from "node:child_process";
import { chownSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll } from "vitest";
import { createPostgresStorage } from "../../src/storage/postgres/index.js";
import type { PostgresStorage } from "../../src/storage/postgres/index.js";
import type { PostgresOptions } from "../../src/storage/postgres/options.js";
import { freeze, thaw } from "./freeze.js";

/**
 * A private PostgreSQL 15 for tests: its own data directory under /tmp, a random loopback port, its
 * unix socket inside the data directory, password (scram) authentication over TCP so tests can also
 * present a wrong password. PostgreSQL refuses to run as root, so as root every binary runs as the
 * `postgres` OS user through `runuser` (as anyone else, as that user). Binaries come from PG_BIN
 * (default /usr/lib/postgresql/15/bin).
 *
 * Durability trade-off: `fsync=off` (tests need speed, and killing the server process never loses
 * data that the OS already holds; only an OS crash would), while sessions keep `synchronous_commit=on`
 * so the server only acknowledges committed transactions, as in production.
 */

const BIN = process.env.PG_BIN ?? "/usr/lib/postgresql/15/bin";
const OS_USER = "postgres";

export interface PrivatePostgres {
  host: string;
  port: number;
  user: string;
  password: string;
  /** The database created for the caller; more can be made with createDatabase(). */
  database: string;
  /** A fresh empty database on the same server, for tests that need isolation. */
  createDatabase(): Promise<string>;
  /** Stops the server and removes its files. Safe to call twice. */
  stop(): Promise<void>;
  /** Crash: immediate shutdown, data kept; start() brings it back on the same port. */
  kill(): Promise<void>;
  /** Starts the server again (after kill) on the same port and data directory. */
  start(): Promise<void>;
  /** Freezes every server process (SIGSTOP), once all have stopped: connections hang instead of failing. */
  pause(): Promise<void>;
  /** Undoes pause(). */
  resume(): void;
  /** The postmaster and the processes it forked now (for the benchmark's CPU accounting). */
  pids(): number[];
}

interface PgIds {
  uid: number;
  gid: number;
}

function osUserIds(): PgIds {
  const uid = Number(spawnSync("id", ["-u", OS_USER], { encoding: "utf8" }).stdout.trim());
  const gid = Number(spawnSync("id", ["-g", OS_USER], { encoding: "utf8" }).stdout.trim());
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error(`no OS user ${OS_USER}`);
  return { uid, gid };
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

/** PostgreSQL refuses to run as root: as root, run its binaries as the postgres OS user. */
const AS_ROOT = process.getuid?.() === 0;

function command(args: string[]): [string, string[]] {
  return AS_ROOT ? ["runuser", ["-u", OS_USER, "--", ...args]] : [args[0], args.slice(1)];
}

function runAsPostgres(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const [cmd, argv] = command(args);
    const child = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.once("error", reject);
    child.once("exit", (code) => resolve({ code: code ?? 1, output }));
  });
}

async function mustRun(args: string[]): Promise<void> {
  const { code, output } = await runAsPostgres(args);
  if (code !== 0) throw new Error(`${args.join(" ")} failed (${code}): ${output}`);
}

/** The postmaster and every process it forked, from /proc (no process-name matching). */
function serverPids(dataDir: string): number[] {
  let postmaster: number;
  try {
    postmaster = Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
  } catch {
    return [];
  }
  const pids = [postmaster];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === postmaster) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

export async function startPostgres(): Promise<PrivatePostgres> {
  const ids = AS_ROOT ? osUserIds() : undefined;
  const root = mkdtempSync("/tmp/reports-pg-");
  if (ids) chownSync(root, ids.uid, ids.gid);
  const dataDir = join(root, "data");
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const pwFile = join(root, "pwfile");
  writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  if (ids) chownSync(pwFile, ids.uid, ids.gid);
  const user = "reports";
  const port = await freePort();
  const logFile = join(root, "server.log");

  await mustRun([
    join(BIN, "initdb"),
    "-D",
    dataDir,
    "-U",
    user,
    "--pwfile",
    pwFile,
    "--auth-host=scram-sha-256",
    "--auth-local=trust",
    "--no-sync",
    "-E",
    "UTF8",
    "--locale=C",
  ]);
  rmSync(pwFile);

  const serverOptions = [
    `-p ${port}`,
    `-k ${root}`,
    "-c listen_addresses=127.0.0.1",
    "-c fsync=off",
    "-c full_page_writes=off",
    "-c max_connections=300",
    "-c shared_buffers=64MB",
  ].join(" ");

  const pgStart = () =>
    mustRun([
      join(BIN, "pg_ctl"),
      "-D",
      dataDir,
      "-o",
      serverOptions,
      "-l",
      logFile,
      "-w",
      "-t",
      "60",
      "start",
    ]);
  const pgStop = (mode: "fast" | "immediate") =>
    runAsPostgres([join(BIN, "pg_ctl"), "-D", dataDir, "-m", mode, "-w", "-t", "60", "stop"]);

  // If the test process dies without calling stop(), do not leave a server behind.
  const onExit = () => {
    thaw(serverPids(dataDir));
    const [cmd, argv] = command([join(BIN, "pg_ctl"), "-D", dataDir, "-m", "immediate", "stop"]);
    spawnSync(cmd, argv);
    rmSync(root, { recursive: true, force: true });
  };
  process.once("exit", onExit);

  try {
    await pgStart();
  } catch (err) {
    onExit();
    process.removeListener("exit", onExit);
    throw err;
  }

  let dbCounter = 0;
  const admin = () =>
    postgres({ host: "127.0.0.1", port, user, password, database: "postgres", max: 1, onnotice: () => {} });

  const createDatabase = async (): Promise<string> => {
    const name = `reports_${process.pid}_${++dbCounter}`;
    const sql = admin();
    try {
      await sql.unsafe(`CREATE DATABASE ${name}`);
    } finally {
      await sql.end({ timeout: 1 });
    }
    return name;
  };

  const database = await createDatabase();
  let stopped = false;

  return {
    host: "127.0.0.1",
    port,
    user,
    password,
    database,
    createDatabase,
    pids: () => serverPids(dataDir),
    async stop() {
      if (stopped) return;
      stopped = true;
      thaw(serverPids(dataDir));
      await pgStop("fast");
      process.removeListener("exit", onExit);
      rmSync(root, { recursive: true, force: true });
    },
    async kill() {
      thaw(serverPids(dataDir));
      await pgStop("immediate");
    },
    start: pgStart,
    pause: async () => {
      // The postmaster first: a backend it forks while the others are being found and stopped (a
      // connection being opened) would go on answering.
      await freeze(serverPids(dataDir).slice(0, 1));
      await freeze(serverPids(dataDir));
    },
    resume: () => thaw(serverPids(dataDir)),
  };
}

/**
 * Options for createPostgresStorage against a private server: short timeouts and a fast poll suit
 * tests; `database` defaults to the one startPostgres() created.
 */
export function postgresStorageOptions(
  pg: PrivatePostgres,
  overrides: Partial<PostgresOptions> = {},
): PostgresOptions {
  return {
    host: pg.host,
    port: pg.port,
    database: pg.database,
    user: pg.user,
    password: pg.password,
    sslmode: "disable",
    maxOpenConns: 5,
    clusterName: "test",
    skipMigrations: false,
    queryTimeoutMs: 5_000,
    connectTimeoutMs: 2_000,
    historyWindowSeconds: 600,
    pollIntervalMs: 100,
    ...overrides,
  };
}

/**
 * A private PostgreSQL for one test file and a factory of storages on it, every one of which is
 * closed after the file's tests (then the server stops). `use` receives the server once started.
 */
export function usePrivatePostgres(
  use: (pg: PrivatePostgres) => void,
): (overrides?: Partial<PostgresOptions>) => Promise<PostgresStorage> {
  let pg: PrivatePostgres | undefined;
  const open: PostgresStorage[] = [];
  beforeAll(async () => {
    pg = await startPostgres();
    use(pg);
  });
  afterAll(async () => {
    await Promise.all(open.map((s) => s.close()));
    await pg?.stop();
  });
  return async (overrides = {}) => {
    if (pg === undefined) throw new Error("the private PostgreSQL is not started yet");
    const s = await createPostgresStorage(postgresStorageOptions(pg, overrides));
    open.push(s);
    return s;
  };
}
