import { StorageError } from "../interface.js";
import { CONNECTION_CODES } from "./errors.js";

/**
 * Errors that say the server is gone, not that one statement failed: client-side connection codes, SQLSTATE class
 * 08 (connection exception) and 57P01..57P03 (admin/crash shutdown, cannot connect now).
 */
export function isConnectionFailure(err: unknown): boolean {
  const code = typeof err === "object" && err !== null ? (err as { code?: unknown }).code : undefined;
  if (typeof code !== "string") return false;
  return CONNECTION_CODES.has(code) || code.startsWith("08") || /^57P0[123]$/.test(code);
}

export interface CircuitOptions {
  /** After a connection failure, queries fail at once for this long. */
  openMs: number;
  /** A probe that has not answered after this long no longer holds back the next one. */
  probeMs: number;
}

/**
 * Fail fast while the database is down. postgres.js queues every query behind its reconnect
 * attempts, so without this a request during an outage waits for connect timeouts and backoff
 * instead of getting a quick 503. After a connection failure every query is refused for `openMs`;
 * then one query at a time goes through as a probe, and the first answer from the server (success
 * or an ordinary SQL error) closes the circuit again. A server that keeps its connections open but
 * stops answering (frozen, cut off by a partition) reports no connection error: a query that gets
 * no answer by its deadline, while nothing else was answered since it was sent, counts as one.
 */
export class ConnectionCircuit {
  /** When the last connection failure happened; undefined while the server answers. */
  private failedAt: number | undefined;
  private lastError = "";
  private probeSince = -Infinity;
  /** When the server last answered anything. */
  private answeredAt = -Infinity;

  constructor(private readonly options: CircuitOptions) {}

  /** Throws Unavailable if the query must not be sent; returns whether it is the probe. */
  admit(now = Date.now()): boolean {
    if (this.failedAt === undefined) return false;
    const since = now - this.failedAt;
    if (since < this.options.openMs || now - this.probeSince < this.options.probeMs) {
      throw new StorageError(
        "Unavailable",
        `database unavailable: the last connection attempt failed ${since} ms ago (${this.lastError})`,
      );
    }
    this.probeSince = now;
    return true;
  }

  /** The server answered (rows or an SQL error): it is reachable. */
  succeeded(now = Date.now()): void {
    this.failedAt = undefined;
    this.probeSince = -Infinity;
    this.answeredAt = now;
  }

  /** A query sent at `sentAt` got no answer by its deadline: see the class comment. */
  timedOut(sentAt: number, err: unknown, now = Date.now()): void {
    if (this.answeredAt < sentAt) this.failed(err, now);
  }

  failed(err: unknown, now = Date.now()): void {
    this.failedAt = now;
    this.probeSince = -Infinity;
    this.lastError = err instanceof Error ? err.message : String(err);
  }

  /** Records how a query ended: only failures to reach the server open the circuit. */
  settle(err: unknown): void {
    if (err === undefined) this.succeeded();
    else if (isConnectionFailure(err)) this.failed(err);
    else if (!(err instanceof StorageError)) this.succeeded();
  }
}
