import { pino } from "pino";
import type { Logger } from "pino";
import { createEtcdClient } from "./client.js";
import { resolveEtcdOptions } from "./options.js";
import type { EtcdOptions } from "./options.js";
import { EtcdStorage } from "./storage.js";

export type { EtcdOptions } from "./options.js";
export type { EtcdStorage } from "./storage.js";
export { labelIndexKeys, putEntries } from "./label-index.js";

/**
 * Storage on a dedicated etcd. It does not wait for etcd: an etcd that is down at start makes
 * `ready()` fail and requests answer Unavailable until it is back, without a restart.
 */
export async function createEtcdStorage(opts: EtcdOptions, log?: Logger): Promise<EtcdStorage> {
  const resolved = resolveEtcdOptions(opts);
  const logger = log ?? pino({ level: "silent" });
  return new EtcdStorage(createEtcdClient(resolved), resolved, logger.child({ storage: "etcd" }));
}
