import { readFileSync } from "node:fs";
import { Agent, request as httpsRequest } from "node:https";
import type { IncomingMessage } from "node:http";
import type { Status } from "../apimachinery/status.js";
import { isPlainObject } from "../apimachinery/types.js";
import type { KubeConnection } from "./kubeconfig.js";

/**
 * A small JSON client for the few kube-apiserver calls this server makes (reviews, one ConfigMap,
 * APIServices, a Lease, listing CRD-stored reports). Paths are full API paths; errors carry the status.
 */

export class KubeApiError extends Error {
  constructor(
    /** HTTP status; 0 when no response arrived (connection failure or timeout). */
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly status?: Status,
  ) {
    super(message);
    this.name = "KubeApiError";
  }
}

export function isKubeApiError(err: unknown, code?: number): err is KubeApiError {
  return err instanceof KubeApiError && (code === undefined || err.code === code);
}

export interface WatchEvent<T = Record<string, unknown>> {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: T;
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  contentType?: string;
  timeoutMs?: number;
}

export interface KubeClientOptions {
  /** Per-request timeout for everything but watches (default 10 s). */
  timeoutMs?: number;
  userAgent?: string;
}

const TOKEN_REREAD_MS = 60_000;

export class KubeClient {
  private readonly agent: Agent;
  private readonly base: URL;
  private readonly timeoutMs: number;
  private readonly userAgent: string;
  private token?: { value: string; readAt: number };

  constructor(
    private readonly conn: KubeConnection,
    opts: KubeClientOptions = {},
  ) {
    this.base = new URL(conn.server);
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.userAgent = opts.userAgent ?? "reports-server";
    this.agent = new Agent({
      keepAlive: true,
      maxSockets: 16,
      ca: conn.ca,
      cert: conn.cert,
      key: conn.key,
      rejectUnauthorized: !conn.insecureSkipTLSVerify,
    });
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>("GET", path, { query });
  }

  list<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>("GET", path, { query });
  }

  create<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("POST", path, { body });
  }

  update<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("PUT", path, { body });
  }

  patch<T>(path: string, body: unknown, type: "merge" | "json" | "strategic" = "merge"): Promise<T> {
    const contentType = {
      merge: "application/merge-patch+json",
      json: "application/json-patch+json",
      strategic: "application/strategic-merge-patch+json",
    }[type];
    return this.request<T>("PATCH", path, { body, contentType });
  }

  delete<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("DELETE", path, { body });
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, path, opts, opts.timeoutMs ?? this.timeoutMs);
    const text = await readBody(res);
    if (res.statusCode && res.statusCode >= 200 && res.statusCode < 300) {
      return (text ? JSON.parse(text) : {}) as T;
    }
    throw responseError(res.statusCode ?? 0, text);
  }

  /**
   * Stream a watch (`?watch=true`) and call `onEvent` for each event, in order. Resolves when the server
   * ends the stream (e.g. after `timeoutSeconds`) or `signal` aborts; rejects on transport errors.
   * An ERROR event (e.g. 410 Expired) is thrown as a KubeApiError.
   */
  async watch<T = Record<string, unknown>>(
    path: string,
    query: Query,
    onEvent: (ev: WatchEvent<T>) => void | Promise<void>,
    signal?: AbortSignal,
  ): Promise<void> {
    const res = await this.send(
      "GET",
      path,
      { query: { ...query, watch: true } },
      this.timeoutMs,
      signal,
      true,
    );
    if (!res.statusCode || res.statusCode < 200 || res.statusCode >= 300) {
      throw responseError(res.statusCode ?? 0, await readBody(res));
    }
    res.setEncoding("utf8");
    let buf = "";
    try {
      for await (const chunk of res as AsyncIterable<string>) {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue;
          const ev = JSON.parse(line) as WatchEvent<T>;
          if (ev.type === "ERROR") throw statusError(ev.object as unknown as Status);
          await onEvent(ev);
        }
      }
    } catch (err) {
      if (signal?.aborted) return;
      throw err;
    } finally {
      res.destroy();
    }
  }

  close(): void {
    this.agent.destroy();
  }

  private bearer(): string | undefined {
    if (this.conn.token) return this.conn.token;
    if (!this.conn.tokenFile) return undefined;
    const now = Date.now();
    if (!this.token || now - this.token.readAt > TOKEN_REREAD_MS) {
      this.token = { value: readFileSync(this.conn.tokenFile, "utf8").trim(), readAt: now };
    }
    return this.token.value;
  }

  private send(
    method: string,
    path: string,
    opts: RequestOptions,
    timeoutMs: number,
    signal?: AbortSignal,
    streaming = false,
  ): Promise<IncomingMessage> {
    const url = new URL(path, this.base);
    const basePath = this.base.pathname.replace(/\/$/, "");
    if (basePath) url.pathname = basePath + path;
    for (const [k, v] of Object.entries(opts.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { Accept: "application/json", "User-Agent": this.userAgent };
    const token = this.bearer();
    if (token) headers.Authorization = `Bearer ${token}`;
    let payload: Buffer | undefined;
    if (opts.body !== undefined) {
      payload = Buffer.from(JSON.stringify(opts.body));
      headers["Content-Type"] = opts.contentType ?? "application/json";
      headers["Content-Length"] = String(payload.length);
    }
    return new Promise((resolve, reject) => {
      const req = httpsRequest(url, { method, headers, agent: this.agent, signal }, (res) => {
        // A watch may stay quiet for minutes: only the wait for its headers is bounded.
        if (streaming) req.setTimeout(0);
        resolve(res);
      });
      req.setTimeout(timeoutMs, () => {
        req.destroy(
          new KubeApiError(0, "Timeout", `${method} ${url.pathname}: no response within ${timeoutMs} ms`),
        );
      });
      req.on("error", (err: NodeJS.ErrnoException) => {
        if (err instanceof KubeApiError) return reject(err);
        // a connection that was reset is told apart: the webhooks retry it (utilnet.IsConnectionReset)
        const reason = err.code === "ECONNRESET" ? "ConnectionReset" : "ConnectionError";
        reject(new KubeApiError(0, reason, `${method} ${url.pathname}: ${err.message}`));
      });
      req.end(payload);
    });
  }
}

async function readBody(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString("utf8");
}

function statusError(status: Status): KubeApiError {
  return new KubeApiError(status.code ?? 500, status.reason ?? "", status.message ?? "unknown error", status);
}

function responseError(code: number, text: string): KubeApiError {
  try {
    const body: unknown = JSON.parse(text);
    if (isPlainObject(body) && body.kind === "Status")
      return statusError({ ...(body as unknown as Status), code });
  } catch {
    // not JSON: keep the text
  }
  return new KubeApiError(code, code === 0 ? "ConnectionError" : "Unknown", text || `HTTP ${code}`);
}
