import { startBackend, startServer, type Backend } from "../test/support/server.js";
import { etcdWriter, postgresWriter } from "./bulk.js";
import { createClient, type ClientOptions } from "./client.js";
import { makeFrontProxy } from "./front-proxy.js";
import { HttpTarget } from "./http-target.js";
import { childPid } from "./proc.js";
import type { Subject } from "./subject.js";

/**
 * reports-server on `backend` (with a private PostgreSQL or etcd), built from dist/ by `npm run build`;
 * with `root`, the build in that other checkout (`--compare`, see compare.ts).
 */
export async function startServerSubject(
  backend: Backend,
  client: Pick<ClientOptions, "transport" | "connections">,
  auth: "token" | "front-proxy",
  root?: string,
): Promise<Subject> {
  const proxy = auth === "front-proxy" ? await makeFrontProxy() : undefined;
  const store = await startBackend(backend);
  try {
    const server = await startServer({
      backend,
      args: [...store.args, ...(proxy?.args ?? [])],
      env: store.env,
      readyTimeoutMs: 120_000,
      root,
    });
    const http = createClient({
      ...client,
      url: server.url,
      ca: server.ca,
      token: server.token,
      identity: proxy?.identity,
    });
    const bulk =
      backend === "postgres"
        ? postgresWriter(store.args, store.env)
        : backend === "etcd"
          ? etcdWriter(store.args)
          : undefined;
    return {
      target: new HttpTarget(root === undefined ? "reports-server" : "the base reports-server", http),
      pid: childPid(`--secure-port=${server.port}`),
      bulk,
      settle: bulk?.settle,
      storePids: store.pids,
      async stop() {
        await bulk?.close();
        http.close();
        await server.stop();
        await store.stop();
        proxy?.remove();
      },
    };
  } catch (err) {
    await store.stop();
    proxy?.remove();
    throw err;
  }
}
