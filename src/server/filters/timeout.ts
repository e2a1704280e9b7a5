import { timeout } from "../../apimachinery/status.js";
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
      const m = /^(\d+)(s|m)?$/.exec(asked);
      if (m) ms = Math.min(ms, Number(m[1]) * (m[2] === "m" ? 60_000 : 1000));
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
