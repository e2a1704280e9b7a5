import { randomUUID } from "node:crypto";
import { createSecureServer, type Http2SecureServer, type SecureServerOptions } from "node:http2";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { Logger } from "pino";
import type { RequestContext } from "../endpoints/context.js";
import { requestInfo } from "../endpoints/requestinfo.js";
import { writeError } from "../endpoints/respond.js";
import { readBody } from "./body.js";
import { requestLogLevel, requestLogger } from "./logger.js";
import type { Handler } from "./filters/types.js";
import type { RequestObserver } from "./metrics/api.js";

export interface TlsMaterial {
  key: string;
  cert: string;
  /** CAs whose clients are asked for a certificate (front-proxy, client-ca); verification is the authenticator's. */
  clientCAs: string[];
  minVersion: "TLSv1.2" | "TLSv1.3";
  ciphers?: string;
}

export interface HttpServer {
  listen(port: number, host: string): Promise<number>;
  /** New certificates or client CAs, without dropping connections. */
  setTls(tls: TlsMaterial): void;
  /** Stops accepting; resolves when every connection is gone or `graceMs` has passed. */
  close(graceMs: number): Promise<void>;
}

function secureOptions(tls: TlsMaterial): SecureServerOptions {
  return {
    key: tls.key,
    cert: tls.cert,
    ca: tls.clientCAs.length > 0 ? tls.clientCAs : undefined,
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: tls.minVersion,
    ciphers: tls.ciphers,
  };
}

/**
 * HTTPS with HTTP/2 for clients that offer it (kubectl, client-go) and HTTP/1.1 for the rest.
 * Each request becomes a RequestContext and runs through the filter chain; errors become a Status here.
 */
/** Why a request's signal aborts: it ended (answered, client gone, timed out or shut down). */
const REQUEST_ENDED = new Error("the request ended");
REQUEST_ENDED.name = "AbortError";

export function createHttpServer(
  tls: TlsMaterial,
  handler: Handler,
  log: Logger,
  observer?: RequestObserver,
): HttpServer {
  const server: Http2SecureServer = createSecureServer({ ...secureOptions(tls), allowHTTP1: true });
  const sessions = new Set<{ close(): void; destroy(): void }>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  const sockets = new Set<import("node:net").Socket>();
  /** In-flight requests; shutdown aborts them so watches end cleanly and clients reconnect elsewhere. */
  const active = new Set<RequestContext>();
  server.on("secureConnection", (s) => {
    // A connection keeps the client certificate of its handshake (the authentication filter reads
    // it once per connection), as Go's TLS server, which never renegotiates, does for kube-apiserver.
    s.disableRenegotiation();
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("tlsClientError", (err) => log.debug({ err: err.message }, "TLS handshake failed"));
  const reqLog = requestLogger(log);

  server.on(
    "request",
    (req: Http2ServerRequest | IncomingMessage, res: Http2ServerResponse | ServerResponse) => {
      const start = process.hrtime.bigint();
      const rawUrl = req.url ?? "/";
      const q = rawUrl.indexOf("?");
      let path: string;
      try {
        path = decodeURIComponent(q < 0 ? rawUrl : rawUrl.slice(0, q));
      } catch {
        // A malformed escape is the client's error; it must never reach the process (uncaught).
        res.statusCode = 400;
        res.setHeader("Content-Type", "application/json");
        res.end(
          JSON.stringify({
            kind: "Status",
            apiVersion: "v1",
            metadata: {},
            status: "Failure",
            message: "malformed URL path",
            reason: "BadRequest",
            code: 400,
          }),
        );
        return;
      }
      const query = new URLSearchParams(q < 0 ? "" : rawUrl.slice(q + 1));
      const method = req.method ?? "GET";
      // Most requests end without anyone listening for their end: the controller (and the
      // DOMException its abort() makes) is created only when a signal is asked for.
      let ac: AbortController | undefined;
      // with a reason, abort() does not build a DOMException (and its stack) for nobody to read
      let aborted = false;
      const signal = (): AbortSignal => {
        if (ac === undefined) {
          ac = new AbortController();
          if (aborted) ac.abort(REQUEST_ENDED);
        }
        return ac.signal;
      };
      let onAbort: (() => void) | undefined;
      const abort = () => {
        aborted = true;
        ac?.abort(REQUEST_ENDED);
        const callback = onAbort;
        onAbort = undefined;
        callback?.();
      };
      let bodyPromise: Promise<Buffer> | undefined;
      const ctx: RequestContext = {
        req: req as IncomingMessage,
        res: res as ServerResponse,
        method,
        path,
        query,
        info: requestInfo(method, path, query),
        get signal() {
          return signal();
        },
        abort,
        body: () =>
          (bodyPromise ??= readBody(req as IncomingMessage, (callback) => {
            if (aborted) callback();
            else onAbort = callback;
          })),
        warnings: [],
        log: {},
      };
      active.add(ctx);
      observer?.started(ctx);
      res.on("close", () => {
        abort();
        active.delete(ctx);
      });
      handler(ctx)
        .catch((err) => writeError(ctx, err))
        .catch((err) => {
          log.error({ err }, "failed to write an error response");
          if (!res.writableEnded) res.destroy();
        })
        .finally(() => {
          const ms = Number(process.hrtime.bigint() - start) / 1e6;
          observer?.finished(ctx, res.statusCode, ms / 1000);
          // the line never carries a body
          const level = requestLogLevel(res.statusCode, ctx.info.verb, ms);
          if (!reqLog.isLevelEnabled(level)) return;
          const entry = {
            requestId: req.headers["x-request-id"] ?? randomUUID(),
            verb: ctx.info.verb,
            path,
            resource: ctx.info.resource || undefined,
            namespace: ctx.info.namespace || undefined,
            name: ctx.info.name || undefined,
            code: res.statusCode,
            ms: Math.round(ms * 10) / 10,
            userAgent: req.headers["user-agent"],
            ...ctx.log,
          };
          reqLog[level](entry, "request");
        });
    },
  );

  return {
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          const addr = server.address();
          resolve(typeof addr === "object" && addr ? addr.port : port);
        });
      });
    },
    setTls(next) {
      server.setSecureContext(secureOptions(next));
    },
    close(graceMs) {
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          for (const s of sessions) s.destroy();
          for (const s of sockets) s.destroy();
        }, graceMs);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        // Watches end at once (clients re-watch elsewhere); other requests get the grace period.
        for (const ctx of active) if (ctx.info.verb === "watch") ctx.abort();
        for (const s of sessions) s.close();
      });
    },
  };
}
