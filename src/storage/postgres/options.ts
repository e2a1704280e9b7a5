/** How to reach PostgreSQL and how the backend behaves; src/config.ts fills it from flags and env. */
export type SslMode = "disable" | "prefer" | "require" | "verify-ca" | "verify-full";

export interface PostgresOptions {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
  sslmode: SslMode;
  /** CA bundle that verifies the server (verify-ca, verify-full). */
  sslrootcert?: string;
  /** Client certificate and key, for servers that authenticate clients by certificate. */
  sslcert?: string;
  sslkey?: string;
  /** Pool size; one more connection is held for LISTEN. */
  maxOpenConns: number;
  /** Several clusters may share one database; every row carries this name. */
  clusterName: string;
  /** Operators who apply migrations separately set this; the schema must then already be current. */
  skipMigrations: boolean;
  /** Every query ends (statement_timeout, and a client-side deadline) after this long. */
  queryTimeoutMs: number;
  /** Changes stay in the changelog at least this long; older watch/continue points are Compacted. */
  historyWindowSeconds: number;
  /** How often the changelog is read when no NOTIFY arrives; bounds watch latency. */
  pollIntervalMs: number;
  /** Connecting gives up after this long (startup and reconnects); default 3 s. */
  connectTimeoutMs?: number;
  /** How often old changelog rows are pruned. Defaults to a quarter of the history window (≥1 s). */
  pruneIntervalMs?: number;
}

export const defaultPostgresOptions: Omit<PostgresOptions, "host" | "database" | "user"> = {
  port: 5432,
  sslmode: "prefer",
  maxOpenConns: 10,
  clusterName: "default",
  skipMigrations: false,
  queryTimeoutMs: 10_000,
  historyWindowSeconds: 600,
  pollIntervalMs: 250,
};

export const DEFAULT_CONNECT_TIMEOUT_MS = 3_000;

/** The logger the backend writes to (pino's shape). */
export interface StorageLog {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
  error(o: object, msg?: string): void;
}

export const silentLog: StorageLog = { info() {}, warn() {}, error() {} };
