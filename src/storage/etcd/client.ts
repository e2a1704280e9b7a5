import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import { Etcd3, GRPCUnavailableError } from "etcd3";
import type { IOptions } from "etcd3";
import type { ResolvedEtcdOptions } from "./options.js";

type FaultHandling = NonNullable<IOptions["faultHandling"]>;
type Policy = NonNullable<FaultHandling["global"]>;

/**
 * The etcd client, tuned for an API server that must answer quickly when etcd is away:
 * - every unary call has a deadline (watch streams have none), so a hung etcd becomes Unavailable;
 * - no circuit breaker: the library's default stops calling a host for 5 s after 3 failures,
 *   which would delay recovery after an outage; gRPC itself reconnects with backoff;
 * - a call that could not reach one endpoint is tried on the next (never more than once per
 *   endpoint), as clientv3 fails over; with one endpoint it fails at once;
 * - no limit on received messages: a page of gzipped 3 MiB reports, or a watch response with
 *   previous values, easily passes gRPC's default 4 MiB;
 * - keepalive pings, so a watch on a dead connection notices within seconds;
 * - no gRPC retries: with them on, every call goes through grpc-js's retry machinery (its message
 *   buffer, throttler and attempt bookkeeping), 10% of an etcd update's server CPU. What they would
 *   retry is a call the connection dropped before etcd saw it, which the caller then gets as a 503
 *   (no service config sets a retry policy, so only those transparent retries were ever made).
 */
export function createEtcdClient(opts: ResolvedEtcdOptions): Etcd3 {
  // https:// endpoints without files get the library's default TLS (system roots, no client cert)
  const credentials =
    opts.caFile !== undefined || opts.certFile !== undefined
      ? {
          rootCertificate:
            opts.caFile !== undefined ? readFileSync(opts.caFile) : Buffer.from(rootCertificates.join("\n")),
          privateKey: opts.keyFile !== undefined ? readFileSync(opts.keyFile) : undefined,
          certChain: opts.certFile !== undefined ? readFileSync(opts.certFile) : undefined,
        }
      : undefined;
  return new Etcd3({
    hosts: opts.endpoints,
    credentials,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + opts.requestTimeoutMs }),
    dialTimeout: opts.requestTimeoutMs,
    grpcOptions: {
      "grpc.max_receive_message_length": -1,
      "grpc.max_send_message_length": -1,
      "grpc.keepalive_time_ms": 10_000,
      "grpc.keepalive_timeout_ms": 5_000,
      "grpc.initial_reconnect_backoff_ms": 200,
      "grpc.max_reconnect_backoff_ms": 2_000,
      "grpc.enable_retries": 0,
    },
    faultHandling: {
      host: () => passThrough(0),
      global: passThrough(opts.endpoints.length - 1),
    },
  });
}

/**
 * The signal the library's policies hand to each call. etcd3 never reads it and nothing here aborts
 * it, so one serves every call instead of a new AbortController per call and per policy (two per
 * etcd request, 1.4% of an etcd update's server CPU).
 */
const NEVER_ABORTED = new AbortController().signal;

/** A cockatiel-shaped policy that retries only "could not reach the endpoint" failures, at most `retries` times. */
function passThrough(retries: number): Policy {
  const noEvent = () => ({ dispose: () => undefined });
  return {
    _altReturn: undefined as never,
    onSuccess: noEvent,
    onFailure: noEvent,
    async execute<T>(fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T, signal?: AbortSignal) {
      const context = { signal: signal ?? NEVER_ABORTED };
      for (let attempt = 0; ; attempt++) {
        try {
          return await fn(context);
        } catch (err) {
          if (attempt >= retries || !(err instanceof GRPCUnavailableError)) throw err;
        }
      }
    },
  };
}
