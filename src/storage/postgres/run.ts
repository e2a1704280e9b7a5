import { StorageError } from "../interface.js";
import type { ConnectionCircuit } from "./circuit.js";
import { toStorageError } from "./errors.js";

/** Queries in flight through run(): postgres.js keeps its pool's numbers to itself. */
export class QueryLoad {
  active = 0;
  /** The most queries in flight at once so far, which is how many connections the pool has opened. */
  peak = 0;

  enter(): void {
    this.active++;
    if (this.active > this.peak) this.peak = this.active;
  }

  leave(): void {
    this.active--;
  }
}

/** How much longer than its statement_timeout a query is waited for. */
const DEADLINE_GRACE_MS = 500;

/** What bounds and guards one query: its deadline, the pool's circuit, the pool's load counter. */
export interface QueryLimits {
  timeoutMs: number;
  /** The connections' statement_timeout: a deadline that long waits a little more for its answer. */
  statementTimeoutMs?: number;
  circuit?: ConnectionCircuit;
  load?: QueryLoad;
}

/**
 * Runs one query with a client-side deadline on top of the server's statement_timeout: a server that
 * stopped answering (frozen, network partition) must not hang a request. While the circuit says the
 * server is unreachable the query is not sent at all (postgres.js queries start only when awaited).
 * Errors come out as the storage interface promises (Unavailable for anything transient).
 */
export async function run<T>(query: PromiseLike<T> & { cancel(): unknown }, limits: QueryLimits): Promise<T> {
  limits.circuit?.admit();
  limits.load?.enter();
  const sentAt = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  // made only when the deadline passes: an Error's stack trace cost 2 % of a write's CPU
  let timeout: StorageError | undefined;
  // the grace lets a live server's own statement_timeout answer first: only silence is counted
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => {
        query.cancel();
        timeout = new StorageError("Unavailable", `database did not answer within ${limits.timeoutMs} ms`);
        reject(timeout);
      },
      limits.timeoutMs +
        (limits.timeoutMs >= (limits.statementTimeoutMs ?? Infinity) ? DEADLINE_GRACE_MS : 0),
    );
  });
  try {
    const rows = await Promise.race([query, deadline]);
    limits.circuit?.settle(undefined);
    return rows;
  } catch (err) {
    if (timeout !== undefined && err === timeout) limits.circuit?.timedOut(sentAt, timeout);
    else limits.circuit?.settle(err);
    throw toStorageError(err);
  } finally {
    clearTimeout(timer);
    limits.load?.leave();
  }
}
