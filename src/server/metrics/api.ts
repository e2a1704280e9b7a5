import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { RequestContext } from "../../endpoints/context.js";
import { isMutating } from "../../endpoints/requestinfo.js";
import type { ResourceDef } from "../../resources/types.js";
import { reportedVerb, requestScope, ServedResources } from "./labels.js";
import { Tally } from "./tally.js";

/** What the HTTP server reports about each request: when it arrives and when its response is done. */
export interface RequestObserver {
  started(ctx: RequestContext): void;
  finished(ctx: RequestContext, code: number, seconds: number): void;
}

export interface ApiMetrics extends RequestObserver {
  /** A request refused by the in-flight limits (the filter chain's onReject): 429 by reason. */
  rejected(reason: string): void;
}

/** kube-apiserver's request duration buckets (k8s.io/apiserver endpoints/metrics). */
const DURATION_BUCKETS = [
  0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60,
];

const WRITES = new Set(["create", "update", "patch"]);

/** Why a request was turned away by a limit rather than served, from its status code. */
function rejectionReason(code: number): string | undefined {
  if (code === 413) return "body-too-large";
  if (code === 504) return "timeout";
  return undefined;
}

/**
 * A body the server refused to store: 422 Invalid (schema, ObjectMeta), or 400 on a write (the body
 * could not be decoded, or has unknown fields under fieldValidation=Strict).
 */
function isValidationFailure(ctx: RequestContext, code: number): boolean {
  return code === 422 || (code === 400 && ctx.info.isResourceRequest && WRITES.has(ctx.info.verb));
}

function inflightKind(ctx: RequestContext): "readOnly" | "mutating" | undefined {
  // Watches are long-running: counted by the watch metrics, as kube-apiserver keeps them apart.
  if (ctx.info.isResourceRequest && ctx.info.verb === "watch") return undefined;
  return isMutating(ctx.info) ? "mutating" : "readOnly";
}

export function createApiMetrics(registry: Registry, defs: readonly ResourceDef[]): ApiMetrics {
  const served = new ServedResources(defs);
  const counted = new Tally();
  new Counter({
    name: "apiserver_request_total",
    help: "Requests by verb, group, version, resource, scope and HTTP response code.",
    labelNames: ["verb", "group", "version", "resource", "scope", "code"] as const,
    registers: [registry],
    collect() {
      counted.flush(this);
    },
  });
  const duration = new Histogram({
    name: "apiserver_request_duration_seconds",
    help: "Response latency by verb, group, version, resource and scope; watches are not included.",
    labelNames: ["verb", "group", "version", "resource", "scope"] as const,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  // plain numbers on the request path, read on scrape (see Tally)
  const current = { readOnly: 0, mutating: 0 };
  new Gauge({
    name: "apiserver_current_inflight_requests",
    help: "Requests being served now, by kind (readOnly or mutating); watches are counted apart.",
    labelNames: ["request_kind"] as const,
    registers: [registry],
    collect() {
      this.set({ request_kind: "readOnly" }, current.readOnly);
      this.set({ request_kind: "mutating" }, current.mutating);
    },
  });
  const rejected = new Counter({
    name: "reports_server_rejected_requests_total",
    help:
      "Requests refused by a protective limit, by reason: max-inflight, max-mutating-inflight, max-watches " +
      "(429), body-too-large (413), timeout (504).",
    labelNames: ["reason", "code"] as const,
    registers: [registry],
  });
  const validation = new Counter({
    name: "reports_server_validation_failures_total",
    help: "Requests whose object or options failed validation (422, or 400 on a write), by verb and resource.",
    labelNames: ["verb", "group", "version", "resource", "code"] as const,
    registers: [registry],
  });

  return {
    started(ctx) {
      const kind = inflightKind(ctx);
      if (kind) current[kind]++;
    },
    finished(ctx, code, seconds) {
      const kind = inflightKind(ctx);
      if (kind) current[kind]--;
      const verb = reportedVerb(ctx.info, ctx.req.headers["content-type"]);
      const { group, version, resource } = served.labels(ctx.info);
      const scope = requestScope(ctx.info);
      const status = String(code);
      counted.add(verb, group, version, resource, scope, status);
      if (verb !== "WATCH") duration.labels(verb, group, version, resource, scope).observe(seconds);
      const reason = rejectionReason(code);
      if (reason) rejected.labels(reason, status).inc();
      if (isValidationFailure(ctx, code)) validation.labels(verb, group, version, resource, status).inc();
    },
    rejected(reason) {
      rejected.labels(reason, "429").inc();
    },
  };
}
