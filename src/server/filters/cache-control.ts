import type { Handler } from "./types.js";

/**
 * k8s.io/apiserver's WithCacheControl: every answer depends on who asks, so none may be cached by
 * a shared cache or reused without asking again. Set before the handler runs, so a handler that
 * knows better (immutable OpenAPI documents, aggregated discovery) replaces it.
 */
export function withCacheControl(next: Handler): Handler {
  return (ctx) => {
    ctx.res.setHeader("Cache-Control", "no-cache, private");
    return next(ctx);
  };
}
