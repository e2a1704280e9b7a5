import { afterAll, beforeAll } from "vitest";
import { startServer, type TestServer } from "../../support/server.js";

/** The backends whose store outlives a server process. */
export type DurableBackend = "postgres" | "etcd";
export const DURABLE_BACKENDS: DurableBackend[] = ["postgres", "etcd"];

/**
 * A private PostgreSQL or etcd that tests can crash and bring back on the same port and data
 * (startBackend in support/server.ts hides those handles), plus the flags that point a server at it.
 */
export interface DurableStore {
  backend: DurableBackend;
  args: string[];
  env: Record<string, string>;
  /** Crash: PostgreSQL's immediate shutdown, etcd's SIGKILL; data kept. */
  kill(): Promise<void>;
  /** Starts the store again after kill(), on the same port and data. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startStore(backend: DurableBackend): Promise<DurableStore> {
  if (backend === "postgres") {
    const { startPostgres } = await import("../../support/postgres.js");
    const pg = await startPostgres();
    return {
      backend,
      args: [
        `--db-host=${pg.host}`,
        `--db-port=${pg.port}`,
        `--db-name=${pg.database}`,
        `--db-user=${pg.user}`,
      ],
      env: { DB_PASSWORD: pg.password },
      kill: () => pg.kill(),
      start: () => pg.start(),
      stop: () => pg.stop(),
    };
  }
  const { startEtcd } = await import("../../support/etcd.js");
  const etcd = await startEtcd();
  return {
    backend,
    args: [`--etcd-endpoints=${etcd.endpoints.join(",")}`],
    env: {},
    kill: () => etcd.kill(),
    start: () => etcd.start(),
    stop: () => etcd.stop(),
  };
}

/** One more server process on `store` (its own port, cert dir and token). */
export function startServerOn(store: DurableStore, args: string[] = []): Promise<TestServer> {
  return startServer({ backend: store.backend, args: [...store.args, ...args], env: store.env });
}

export interface Cluster {
  store(): DurableStore;
  /** The servers started in beforeAll, in the order of `serverArgs`. */
  servers(): TestServer[];
  /** Starts another server on the store; it is stopped in afterAll. */
  addServer(args?: string[]): Promise<TestServer>;
}

/**
 * beforeAll: a store and one server per entry of `serverArgs`, started at once (so replicas also
 * race through startup and migrations); afterAll: every server, then the store, even after a
 * failed start.
 */
export function useCluster(backend: DurableBackend, serverArgs: string[][]): Cluster {
  let store: DurableStore | undefined;
  const started: TestServer[] = [];
  let initial: TestServer[] = [];
  const add = async (args: string[] = []) => {
    if (!store) throw new Error("the store did not start (see beforeAll)");
    const s = await startServerOn(store, args);
    started.push(s);
    return s;
  };
  beforeAll(async () => {
    store = await startStore(backend);
    const results = await Promise.allSettled(serverArgs.map((a) => add(a)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
    initial = results.map((r) => (r as PromiseFulfilledResult<TestServer>).value);
  }, 180_000);
  afterAll(async () => {
    await Promise.all(started.map((s) => s.stop()));
    await store?.stop();
  }, 60_000);
  return {
    store: () => {
      if (!store) throw new Error("the store did not start (see beforeAll)");
      return store;
    },
    servers: () => {
      if (initial.length !== serverArgs.length) throw new Error("the servers did not start (see beforeAll)");
      return initial;
    },
    addServer: add,
  };
}
