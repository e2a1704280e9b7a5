import { StorageError, isStorageError } from "../interface.js";

/** The fields of a postgres.js error we read (a server error carries a SQLSTATE `code`). */
interface PgErrorLike {
  code?: string;
  constraint_name?: string;
  message?: string;
}

function asPgError(err: unknown): PgErrorLike {
  return typeof err === "object" && err !== null ? (err as PgErrorLike) : {};
}

export function sqlState(err: unknown): string | undefined {
  return asPgError(err).code;
}

export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = asPgError(err);
  return e.code === "23505" && (constraint === undefined || e.constraint_name === constraint);
}

/** Client-side codes postgres.js and Node's net layer use when the server cannot be reached. */
export const CONNECTION_CODES: ReadonlySet<string> = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/**
 * SQLSTATE classes that mean "try again later": 08 connection exceptions, 53 insufficient resources,
 * 57 operator intervention (shutdown, cancel, statement_timeout = 57014), 40 serialization failures.
 */
function isTransientState(code: string): boolean {
  return /^(08|53|57|40)/.test(code) || code === "55P03";
}

export function isUnavailable(err: unknown): boolean {
  const code = asPgError(err).code;
  return code !== undefined && (CONNECTION_CODES.has(code) || isTransientState(code));
}

/**
 * Turns whatever a query threw into what the storage interface promises: StorageErrors pass through,
 * unreachable/overloaded/timed-out becomes Unavailable, anything else is a bug and stays as it is.
 */
export function toStorageError(err: unknown): unknown {
  if (isStorageError(err)) return err;
  if (isUnavailable(err)) {
    return new StorageError("Unavailable", `database unavailable: ${asPgError(err).message ?? String(err)}`);
  }
  return err;
}

/**
 * One clear sentence for a failure to connect at startup, naming what is wrong (host, database,
 * credentials, TLS) rather than a stack of driver internals.
 */
export function describeConnectError(
  err: unknown,
  target: { host: string; port: number; database: string; user: string },
): string {
  const e = asPgError(err);
  const where = `${target.user}@${target.host}:${target.port}/${target.database}`;
  switch (e.code) {
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `cannot resolve database host "${target.host}" (${where})`;
    case "ECONNREFUSED":
      return `database at ${target.host}:${target.port} refused the connection: is PostgreSQL running there? (${where})`;
    case "CONNECT_TIMEOUT":
    case "ETIMEDOUT":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return `database at ${target.host}:${target.port} did not answer in time (${where})`;
    case "3D000":
      return `database "${target.database}" does not exist on ${target.host}:${target.port}`;
    case "28P01":
      return `password authentication failed for database user "${target.user}" (${where})`;
    case "28000":
      return `database user "${target.user}" is not allowed to connect: ${e.message ?? ""} (${where})`;
    case "SASL_SIGNATURE_MISMATCH":
      return `database server signature mismatch during authentication (${where})`;
    default:
      if (/password/i.test(e.message ?? "")) {
        return `database authentication failed for user "${target.user}": ${e.message} (${where})`;
      }
      if (/ssl|tls|certificate/i.test(e.message ?? "")) {
        return `TLS connection to the database failed: ${e.message} (${where})`;
      }
      return `cannot connect to the database ${where}: ${e.message ?? String(err)}`;
  }
}
