import type { Target } from "./target.js";

/** Something under measurement: a target, the process that serves it (for RSS and CPU), and cleanup. */
export interface Subject {
  target: Target;
  /** The serving process; undefined when the work happens in this process and the database. */
  pid?: number;
  stop(): Promise<void>;
}
