import { pino, type Logger } from "pino";
import { Writable } from "node:stream";

/** JSON logs for machines; `text` renders the same records as one readable line each. */
export function createLogger(level: string, format: "json" | "text"): Logger {
  const opts = {
    level,
    base: { component: "reports-server" },
    redact: {
      paths: ["password", "token", "*.password", "*.token", "headers.authorization"],
      censor: "[redacted]",
    },
  };
  if (format === "json") return pino(opts);
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split("\n")) {
        if (!line) continue;
        const rec = JSON.parse(line) as Record<string, unknown>;
        const { time, level: lv, msg, component: _c, pid: _p, hostname: _h, ...rest } = rec;
        const kv = Object.entries(rest)
          .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
          .join(" ");
        process.stderr.write(
          `${new Date(Number(time)).toISOString()} ${pino.levels.labels[Number(lv)] ?? lv} ${msg ?? ""} ${kv}\n`,
        );
      }
      cb();
    },
  });
  return pino(opts, out);
}
