import type { RequestContext } from "../../endpoints/context.js";

/** Every filter wraps a handler and returns one (k8s.io/apiserver pkg/server/config.go DefaultBuildHandlerChain). */
export type Handler = (ctx: RequestContext) => Promise<void>;

/** Watches are long-running: exempt from the request timeout and counted apart from in-flight limits. */
export function isLongRunning(ctx: RequestContext): boolean {
  return ctx.info.isResourceRequest && ctx.info.verb === "watch";
}
