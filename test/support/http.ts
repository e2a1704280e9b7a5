import { request as httpsRequest } from "node:https";
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";

/** Where and as whom to send raw requests: what a TestServer exposes. */
export interface Endpoint {
  url: string;
  token: string;
  ca: string;
}

export interface RequestOptions {
  /** A string or Buffer is sent as is; anything else as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Override the bearer token; `null` sends none. */
  token?: string | null;
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The body parsed as JSON (throws with the body in the message when it is not JSON). */
  json<T = JsonObject>(): T;
}

/** A parsed JSON object whose shape the test asserts on. */
export type JsonObject = { [key: string]: JsonAny };
export type JsonAny = null | boolean | number | string | JsonAny[] | JsonObject;

function send(ep: Endpoint, method: string, path: string, opts: RequestOptions): Promise<IncomingMessage> {
  const url = new URL(path, ep.url);
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  const token = opts.token === undefined ? ep.token : opts.token;
  if (token !== null) headers["Authorization"] = `Bearer ${token}`;
  let payload: Buffer | undefined;
  if (opts.body !== undefined) {
    payload =
      typeof opts.body === "string" || Buffer.isBuffer(opts.body)
        ? Buffer.from(opts.body)
        : Buffer.from(JSON.stringify(opts.body));
    headers["Content-Type"] ??= "application/json";
    headers["Content-Length"] = String(payload.length);
  }
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method, headers, ca: ep.ca, timeout: opts.timeoutMs ?? 30_000 }, resolve);
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.on("error", reject);
    req.end(payload);
  });
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on("data", (c: Buffer) => chunks.push(c));
    res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    res.on("error", reject);
  });
}

/** One request, read to its end. */
export async function request(
  ep: Endpoint,
  method: string,
  path: string,
  opts: RequestOptions = {},
): Promise<HttpResponse> {
  const res = await send(ep, method, path, opts);
  const body = await readAll(res);
  return {
    status: res.statusCode ?? 0,
    headers: res.headers,
    body,
    json<T = JsonObject>(): T {
      try {
        return JSON.parse(body) as T;
      } catch {
        throw new Error(`${method} ${path} → ${res.statusCode}: not JSON: ${body.slice(0, 500)}`);
      }
    },
  };
}

export const get = (ep: Endpoint, path: string, opts?: RequestOptions) => request(ep, "GET", path, opts);
export const post = (ep: Endpoint, path: string, body: unknown, opts?: RequestOptions) =>
  request(ep, "POST", path, { ...opts, body });
export const put = (ep: Endpoint, path: string, body: unknown, opts?: RequestOptions) =>
  request(ep, "PUT", path, { ...opts, body });
export const del = (ep: Endpoint, path: string, body?: unknown, opts?: RequestOptions) =>
  request(ep, "DELETE", path, { ...opts, body });
export const patch = (
  ep: Endpoint,
  path: string,
  contentType: string,
  body: unknown,
  opts?: RequestOptions,
) =>
  request(ep, "PATCH", path, {
    ...opts,
    body,
    headers: { ...(opts?.headers ?? {}), "Content-Type": contentType },
  });

export interface WatchEventJson {
  type: string;
  object: JsonObject;
}

/** An open watch stream, read event by event (one JSON document per line). */
export interface WatchStream {
  status: number;
  headers: IncomingHttpHeaders;
  /** For a non-200 answer: the whole body. */
  body: string;
  /** Every event received so far, in order. */
  events: WatchEventJson[];
  /** The next event not yet returned by next(); undefined when the stream ends or after `timeoutMs`. */
  next(timeoutMs?: number): Promise<WatchEventJson | undefined>;
  /** Waits until an event matching `pred` has arrived (searching from the start), or throws after `timeoutMs`. */
  waitFor(pred: (e: WatchEventJson) => boolean, timeoutMs?: number): Promise<WatchEventJson>;
  /** Resolves when the server ends the stream; the value is how long the stream stayed open (ms). */
  ended: Promise<number>;
  isEnded(): boolean;
  close(): void;
}

/** Opens a watch (the caller puts `watch=true` or `sendInitialEvents` in `path`). */
export async function openWatch(
  ep: Endpoint,
  path: string,
  opts: { headers?: Record<string, string>; token?: string | null } = {},
): Promise<WatchStream> {
  const started = Date.now();
  const res = await send(ep, "GET", path, { ...opts, timeoutMs: 0 });
  const status = res.statusCode ?? 0;
  if (status !== 200) {
    const body = await readAll(res);
    return {
      status,
      headers: res.headers,
      body,
      events: [],
      next: async () => undefined,
      waitFor: async () => {
        throw new Error(`watch ${path} → ${status}: ${body}`);
      },
      ended: Promise.resolve(Date.now() - started),
      isEnded: () => true,
      close: () => res.destroy(),
    };
  }
  const events: WatchEventJson[] = [];
  let cursor = 0;
  let buffer = "";
  let ended = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const endedPromise = new Promise<number>((resolve) => {
    const finish = () => {
      if (ended) return;
      ended = true;
      notify();
      resolve(Date.now() - started);
    };
    res.on("end", finish);
    res.on("close", finish);
    res.on("error", finish);
  });
  res.setEncoding("utf8");
  res.on("data", (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (line) events.push(JSON.parse(line) as WatchEventJson);
    }
    notify();
  });
  const waitChange = (deadline: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  const stream: WatchStream = {
    status,
    headers: res.headers,
    body: "",
    events,
    async next(timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (cursor >= events.length && !ended && Date.now() < deadline) await waitChange(deadline);
      return cursor < events.length ? events[cursor++] : undefined;
    },
    async waitFor(pred, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = events.find(pred);
        if (found) return found;
        if (ended || Date.now() >= deadline) {
          throw new Error(
            `watch ${path}: no matching event after ${timeoutMs} ms (ended=${ended}); got ${JSON.stringify(events.map((e) => [e.type, (e.object.metadata as JsonObject | undefined)?.name]))}`,
          );
        }
        await waitChange(deadline);
      }
    },
    ended: endedPromise,
    isEnded: () => ended,
    close: () => res.destroy(),
  };
  return stream;
}
