import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";
import postgres from "postgres";
import type { Options, Sql } from "postgres";
import { DEFAULT_CONNECT_TIMEOUT_MS } from "./options.js";
import type { PostgresOptions } from "./options.js";

/** libpq's sslmode as node's TLS options (postgres.js takes either a mode name or tls.connect options). */
export function tlsOptions(opts: PostgresOptions): Options<Record<string, never>>["ssl"] {
  const files: ConnectionOptions = {};
  if (opts.sslrootcert) files.ca = readFileSync(opts.sslrootcert);
  if (opts.sslcert) files.cert = readFileSync(opts.sslcert);
  if (opts.sslkey) files.key = readFileSync(opts.sslkey);
  switch (opts.sslmode) {
    case "disable":
      return false;
    case "prefer":
      // postgres.js falls back to plain text only in its own "prefer" mode, which takes no files
      return "prefer";
    case "require":
      return { ...files, rejectUnauthorized: false };
    case "verify-ca":
      return { ...files, rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case "verify-full":
      return { ...files, rejectUnauthorized: true, servername: opts.host };
  }
}

/** Seconds before a connection retries after `retries` failures in a row (pool-wide): 50 ms doubling to 0.5 s. */
export function reconnectDelaySeconds(retries: number): number {
  return Math.min(0.05 * 2 ** Math.max(0, retries - 1), 0.5);
}

/**
 * The pool: at most maxOpenConns connections, every statement bounded by statement_timeout, commits
 * acknowledged only once durable (synchronous_commit=on, whatever the server default).
 */
export function openPool(opts: PostgresOptions): Sql {
  return postgres({
    host: opts.host,
    port: opts.port,
    database: opts.database,
    username: opts.user,
    password: opts.password,
    ssl: tlsOptions(opts),
    max: opts.maxOpenConns,
    connect_timeout: (opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS) / 1000,
    // postgres.js's default backoff (up to 20 s, counted across the pool) queued queries behind long
    // waits during an outage; the circuit in run() already keeps an unreachable server from being
    // hammered, so a query that is let through tries soon.
    backoff: reconnectDelaySeconds,
    idle_timeout: 60,
    max_lifetime: 30 * 60,
    fetch_types: false,
    prepare: true,
    onnotice: () => {},
    connection: {
      application_name: "reports-server",
      statement_timeout: opts.queryTimeoutMs,
      lock_timeout: opts.queryTimeoutMs,
      idle_in_transaction_session_timeout: Math.max(opts.queryTimeoutMs * 2, 10_000),
      synchronous_commit: "on",
      // Planner estimates on small, never-analyzed tables (report_compaction is guessed at 2,200 rows)
      // push the changelog read over jit_above_cost; compiling it then costs 40 ms to seconds per
      // execution, paid on every custom plan (the first five runs on each pooled connection), so a
      // replica with many connections delivered watch events late. Nothing here benefits from JIT.
      jit: "off",
    },
  });
}
