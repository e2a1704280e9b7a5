import { Counter, Gauge, type Registry } from "prom-client";
import type { WatchObserver, WatchTracker } from "../../endpoints/watch.js";
import type { ResourceDef } from "../../resources/types.js";
import { Tally } from "./tally.js";

export interface WatchMetrics extends WatchObserver {
  /** The store dropped a watcher that fell behind its event buffer (TooSlow). */
  droppedByStore(group: string, resource: string): void;
}

/** Open watches, events written to clients (bookmarks are type="BOOKMARK"), and slow watchers dropped. */
export function createWatchMetrics(registry: Registry, defs: readonly ResourceDef[]): WatchMetrics {
  const open = new Gauge({
    name: "reports_server_watches",
    help: "Watches open now, by group and resource.",
    labelNames: ["group", "resource"] as const,
    registers: [registry],
  });
  const sent = new Tally();
  new Counter({
    name: "reports_server_watch_events_sent_total",
    help: "Watch events written to clients, by group, resource and type (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR).",
    labelNames: ["group", "resource", "type"] as const,
    registers: [registry],
    collect() {
      sent.flush(this);
    },
  });
  const dropped = new Counter({
    name: "reports_server_watchers_dropped_total",
    help:
      "Watches ended because the client read too slowly (it re-watches), by group, resource and reason: " +
      "slow (over the response buffer) or store-buffer (behind the store's event buffer).",
    labelNames: ["group", "resource", "reason"] as const,
    registers: [registry],
  });

  for (const d of defs) open.set({ group: d.group, resource: d.plural }, 0);

  return {
    opened(def): WatchTracker {
      // Opening, closing and dropping a watch are rare; events are counted in a Tally (see above).
      open.labels(def.group, def.plural).inc();
      let closed = false;
      return {
        sent: (type) => sent.add(def.group, def.plural, type),
        dropped: (reason) => dropped.labels(def.group, def.plural, reason).inc(),
        closed: () => {
          if (closed) return;
          closed = true;
          open.labels(def.group, def.plural).dec();
        },
      };
    },
    droppedByStore(group, resource) {
      dropped.labels(group, resource, "store-buffer").inc();
    },
  };
}
