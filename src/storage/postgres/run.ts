import type { PendingQuery, Row } from "postgres";
import { StorageError } from "../interface.js";
import { toStorageError } from "./errors.js";

/**
 * Runs one query with a client-side deadline on top of the server's statement_timeout: a server that
 * stopped answering (frozen, network partition) must not hang a request. Errors come out as the
 * storage interface promises (Unavailable for anything transient).
 */
export async function run<T extends readonly Row[]>(query: PendingQuery<T>, timeoutMs: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      query.cancel();
      reject(new StorageError("Unavailable", `database did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([query, deadline]);
  } catch (err) {
    throw toStorageError(err);
  } finally {
    clearTimeout(timer);
  }
}
