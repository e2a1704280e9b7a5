import { readFileSync } from "node:fs";
import { collectDefaultMetrics, Gauge, type Registry } from "prom-client";

export interface ProcessMetrics {
  /** Set by the cluster code when this replica gains or loses the lease. */
  setLeader(leading: boolean): void;
}

/** package.json is three levels up from both src/server/metrics/ and dist/server/metrics/. */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as {
      version?: unknown;
    };
    return typeof pkg.version === "string" ? pkg.version : "unknown";
  } catch {
    return "unknown";
  }
}

export function createProcessMetrics(
  registry: Registry,
  opts: { version: string; defaultMetrics: boolean; leaseName: string },
): ProcessMetrics {
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry });
  const build = new Gauge({
    name: "reports_server_build_info",
    help: "Always 1; the labels say which build is running.",
    labelNames: ["version", "node_version"] as const,
    registers: [registry],
  });
  build.set({ version: opts.version, node_version: process.version }, 1);
  // client-go's leader election metric, so existing alerts on it work for this server too.
  const leader = new Gauge({
    name: "leader_election_master_status",
    help: "1 while this replica holds the leader lease, 0 otherwise.",
    labelNames: ["name"] as const,
    registers: [registry],
  });
  return {
    setLeader(leading) {
      leader.set({ name: opts.leaseName }, leading ? 1 : 0);
    },
  };
}
