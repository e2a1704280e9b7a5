import { pino, type Logger } from "pino";
import { Writable } from "node:stream";

const SECRETS = ["password", "token", "bearerToken", "authorization", "privateKey", "DB_PASSWORD"];

/** Secrets never reach a log line, at the top level or up to two objects deep (e.g. `cfg.db.password`). */
export const REDACT_PATHS = [
  ...SECRETS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]),
  "headers.cookie",
  "*.headers.cookie",
];

/**
 * The request log's own logger. Its records are built by the server from known fields (verb, path,
 * user, code...), so only the one field that carries foreign content, a 500's `error`, is redacted:
 * pino's wildcard paths cost ~60 µs a line, more than the rest of a line's logging together, and
 * at debug every request logs one.
 */
export function requestLogger(log: Logger): Logger {
  const paths = [
    ...SECRETS.flatMap((k) => [`error.${k}`, `error.*.${k}`]),
    "error.headers.cookie",
    "error.*.headers.cookie",
  ];
  return log.child({}, { redact: { paths, censor: "[redacted]" } });
}

/**
 * A request that took this long or longer is logged at info: kube-apiserver's handlers trace a request
 * that took over 500 ms (utiltrace's `span.End(500 * time.Millisecond)`).
 */
export const SLOW_REQUEST_MS = 500;

/**
 * The level of a request's log line. Every request is logged at debug, as kube-apiserver logs each
 * request only at -v=3: Kyverno writes reports by the hundreds a second, and a line for each (written
 * to a pipe) was 6–8% of the server's CPU in its request pattern. A 5xx is an error with its cause; a
 * request that took SLOW_REQUEST_MS or more is logged at info, except watches, whose length is the client's.
 */
export function requestLogLevel(code: number, verb: string, ms: number): "error" | "info" | "debug" {
  if (code >= 500) return "error";
  return ms >= SLOW_REQUEST_MS && verb !== "watch" ? "info" : "debug";
}

/**
 * JSON logs for machines; `text` renders the same records as one readable line each. `dest` (default
 * stdout for json, stderr for text) is for tests.
 */
export function createLogger(level: string, format: "json" | "text", dest?: NodeJS.WritableStream): Logger {
  const opts = {
    level,
    base: { component: "reports-server" },
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    // A 500's cause is logged under `error` by the request log: keep its message and stack.
    serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
  };
  // Asynchronous stdout: lines that pile up while a write is in flight go out in one write, off the
  // event loop (a synchronous write per request log line was 4% of a write request's CPU). pino
  // flushes it synchronously when the process exits.
  if (format === "json") return pino(opts, dest ?? pino.destination({ dest: 1, sync: false }));
  const sink = dest ?? process.stderr;
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split("\n")) {
        if (!line) continue;
        const rec = JSON.parse(line) as Record<string, unknown>;
        const { time, level: lv, msg, component: _c, pid: _p, hostname: _h, ...rest } = rec;
        const kv = Object.entries(rest)
          .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
          .join(" ");
        sink.write(
          `${new Date(Number(time)).toISOString()} ${pino.levels.labels[Number(lv)] ?? lv} ${msg ?? ""} ${kv}\n`,
        );
      }
      cb();
    },
  });
  return pino(opts, out);
}
