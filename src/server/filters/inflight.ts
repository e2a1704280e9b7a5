import { tooManyRequests } from "../../apimachinery/status.js";
import type { RequestContext } from "../../endpoints/context.js";
import { isMutating } from "../../endpoints/requestinfo.js";
import { isLongRunning, type Handler } from "./types.js";

export interface InflightLimits {
  maxRequestsInflight: number;
  maxMutatingRequestsInflight: number;
  maxWatches: number;
}

export interface InflightState {
  readonly: number;
  mutating: number;
  watches: number;
}

/** Separate budgets for reads, writes and watches; beyond them a 429 that clients retry (client-go honours Retry-After). */
export function withInflightLimit(
  next: Handler,
  limits: InflightLimits,
  state: InflightState,
  onReject?: (reason: string) => void,
  /** Requests no budget applies to. */
  isExempt?: (ctx: RequestContext) => boolean,
): Handler {
  return async (ctx) => {
    if (isExempt?.(ctx)) return next(ctx);
    let slot: keyof InflightState;
    let max: number;
    if (isLongRunning(ctx)) {
      slot = "watches";
      max = limits.maxWatches;
    } else if (isMutating(ctx.info)) {
      slot = "mutating";
      max = limits.maxMutatingRequestsInflight;
    } else {
      slot = "readonly";
      max = limits.maxRequestsInflight;
    }
    if (max > 0 && state[slot] >= max) {
      onReject?.(
        slot === "watches" ? "max-watches" : slot === "mutating" ? "max-mutating-inflight" : "max-inflight",
      );
      throw tooManyRequests("Too many requests, please try again later.", 1);
    }
    state[slot]++;
    try {
      await next(ctx);
    } finally {
      state[slot]--;
    }
  };
}
