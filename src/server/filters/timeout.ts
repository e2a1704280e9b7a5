import { badRequest, timeout } from "../../apimachinery/status.js";
import { isLongRunning, type Handler } from "./types.js";

/**
 * Non-watch requests get `requestTimeoutMs` (or a shorter ?timeout=): then a 504 and the work's signal
 * is aborted so storage calls stop waiting.
 */
export function withTimeout(next: Handler, requestTimeoutMs: number): Handler {
  return async (ctx) => {
    if (isLongRunning(ctx) || requestTimeoutMs <= 0) return next(ctx);
    let ms = requestTimeoutMs;
    const asked = ctx.query.get("timeout");
    if (asked) {
      const parsed = goDurationMs(asked);
      if (parsed === undefined) throw badRequest("invalid timeout specified in the request URL");
      if (parsed > 0) ms = Math.min(ms, parsed);
    }
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        ctx.abort();
        reject(timeout("request did not complete within requested timeout - context deadline exceeded", 0));
      }, ms);
    });
    try {
      await Promise.race([next(ctx), expired]);
    } finally {
      clearTimeout(timer);
    }
  };
}

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** A Go duration (`500ms`, `1m30s`, `1.5s`), as client-go sends ?timeout=; undefined when it is not one. */
function goDurationMs(v: string): number | undefined {
  if (v === "0") return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let at = 0;
  for (let m = re.exec(v); m; m = re.exec(v)) {
    total += Number(m[1]) * UNIT_MS[m[2]];
    at = re.lastIndex;
  }
  return at === v.length && at > 0 ? total : undefined;
}
