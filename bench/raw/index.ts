import type { Backend } from "../../test/support/server.js";
import type { ClientOptions } from "../client.js";
import type { Subject } from "../subject.js";
import { startRawMemory } from "./memory.js";

/** The baseline for a backend: the same work done on the raw store, without reports-server. */
export async function startRawSubject(
  backend: Backend,
  client: Pick<ClientOptions, "transport" | "connections">,
): Promise<Subject> {
  switch (backend) {
    case "memory":
      return startRawMemory(client);
    case "postgres": {
      const { startRawPostgres } = await import("./postgres.js");
      return startRawPostgres();
    }
    case "etcd": {
      const { startRawEtcd } = await import("./etcd.js");
      return startRawEtcd();
    }
  }
}
