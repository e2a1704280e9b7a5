import type { BulkWriter } from "./bulk.js";
import type { Target } from "./target.js";

/** Something under measurement: a target, the process that serves it (for RSS and CPU), and cleanup. */
export interface Subject {
  target: Target;
  /** The serving process; undefined when the work happens in this process and the database. */
  pid?: number;
  /** The store's processes (PostgreSQL's postmaster and backends, etcd), for its CPU per operation. */
  storePids?: () => number[];
  /** Loads stored reports without the API, where the store allows it (see bulk.ts). */
  bulk?: BulkWriter;
  /**
   * After loading: the store as autovacuum leaves it within a minute of a load (VACUUM ANALYZE on
   * PostgreSQL: statistics, and the GIN indexes' own, which only VACUUM keeps), so that no workload
   * runs on plans made for a nearly empty table.
   */
  settle?(): Promise<void>;
  stop(): Promise<void>;
}
