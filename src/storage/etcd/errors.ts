import {
  ClientClosedError,
  GRPCCancelledError,
  GRPCDeadlineExceededError,
  GRPCUnavailableError,
} from "etcd3";
import { StorageError, isStorageError } from "../interface.js";

/** etcd's error texts, stable since etcd 3.0 (mvcc/kvstore.go, etcdserver/errors.go). */
const COMPACTED = "required revision has been compacted";
const FUTURE = "required revision is a future revision";
const TRANSIENT = [
  "etcdserver: request timed out",
  "etcdserver: leader changed",
  "etcdserver: no leader",
  "etcdserver: too many requests",
  "etcdserver: server stopped",
  "etcdserver: not capable",
  // the NOSPACE alarm: writes fail until an operator compacts, defragments and disarms (OPERATIONS.md)
  "database space exceeded",
  "No connection established",
  "Broken circuit",
];

/**
 * Turns what the etcd client throws into the storage error the registry understands: an outage or
 * a timeout is Unavailable (503, retry), a compacted revision Compacted (410), a future one
 * TooLargeResourceVersion (504). Anything else is a bug or a misconfiguration and stays as it is.
 */
export function toStorageError(err: unknown, what: string): unknown {
  if (isStorageError(err) || !(err instanceof Error)) return err;
  const msg = err.message;
  if (msg.includes(COMPACTED)) return new StorageError("Compacted", `${what}: ${msg}`);
  if (msg.includes(FUTURE)) return new StorageError("TooLargeResourceVersion", `${what}: ${msg}`);
  if (
    err instanceof GRPCUnavailableError ||
    err instanceof GRPCDeadlineExceededError ||
    err instanceof GRPCCancelledError ||
    err instanceof ClientClosedError ||
    TRANSIENT.some((t) => msg.includes(t))
  ) {
    return new StorageError("Unavailable", `etcd is unavailable (${what}): ${msg}`);
  }
  return err;
}

/** Runs one etcd call, rethrowing its failure as a storage error. */
export async function etcdCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw toStorageError(err, what);
  }
}
