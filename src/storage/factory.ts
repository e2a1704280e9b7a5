import type { Logger } from "pino";
import type { Config } from "../config.js";
import type { Storage } from "./interface.js";

/** Builds the configured backend; each is imported only when chosen (etcd pulls in gRPC). */
export async function createStorage(cfg: Config, log: Logger): Promise<Storage> {
  switch (cfg.storageBackend) {
    case "memory": {
      const { createMemoryStorage } = await import("./memory/index.js");
      return createMemoryStorage({ historySize: cfg.watchHistorySize });
    }
    case "postgres": {
      const { createPostgresStorage } = await import("./postgres/index.js");
      return createPostgresStorage(
        {
          ...cfg.db,
          clusterName: cfg.clusterName,
          queryTimeoutMs: Math.min(cfg.requestTimeoutMs, 30_000),
          historyWindowSeconds: cfg.dbHistoryWindowSeconds,
          pollIntervalMs: 250,
        },
        log,
      );
    }
    case "etcd": {
      const { createEtcdStorage } = await import("./etcd/index.js");
      return createEtcdStorage(
        {
          endpoints: cfg.etcd.endpoints,
          prefix: cfg.etcd.prefix,
          caFile: cfg.etcd.caFile,
          certFile: cfg.etcd.certFile,
          keyFile: cfg.etcd.keyFile,
          clusterName: cfg.clusterName,
          compactionIntervalMs: cfg.etcd.compactionIntervalMs,
        },
        log,
      );
    }
  }
}
