import { connect, type ClientHttp2Session, type ClientHttp2Stream } from "node:http2";
import { request as httpsRequest } from "node:https";
import type { Endpoint, HttpResponse, JsonObject } from "../../support/http.js";

/**
 * Requests that a test holds in flight on purpose: a response the client does not read (HTTP/2 flow
 * control stops the server's writes once the stream window is full) and a body sent only in part.
 */

/** An HTTP/2 GET whose response body is not read until `resume()`. */
export interface HeldResponse {
  /** Resolves with the status once the response headers have arrived. */
  status: Promise<number>;
  /** Reads the body from now on; resolves with all of it when the server ends the stream cleanly. */
  resume(): Promise<string>;
  /** Whether the server has ended the stream (known only once the body is read). */
  ended(): boolean;
}

export interface H2Client {
  get(path: string): HeldResponse;
  close(): void;
}

export function h2Client(ep: Endpoint): H2Client {
  const session: ClientHttp2Session = connect(ep.url, { ca: ep.ca });
  session.on("error", () => {});
  return {
    get(path) {
      const stream: ClientHttp2Stream = session.request({
        ":method": "GET",
        ":path": path,
        authorization: `Bearer ${ep.token}`,
      });
      stream.on("error", () => {});
      let done = false;
      const status = new Promise<number>((resolve, reject) => {
        stream.once("response", (h) => resolve(Number(h[":status"])));
        stream.once("close", () => reject(new Error(`GET ${path}: stream closed before a response`)));
      });
      status.catch(() => {});
      return {
        status,
        ended: () => done,
        resume: () =>
          new Promise<string>((resolve, reject) => {
            const chunks: Buffer[] = [];
            stream.on("data", (c: Buffer) => chunks.push(c));
            stream.once("end", () => {
              done = true;
              resolve(Buffer.concat(chunks).toString("utf8"));
            });
            stream.once("close", () => {
              if (!done) reject(new Error(`GET ${path}: stream reset (code ${stream.rstCode})`));
            });
          }),
      };
    },
    close: () => session.destroy(),
  };
}

/** A write request whose body is sent in two halves: the second only on `finish()`. */
export interface HalfSentRequest {
  response: Promise<HttpResponse>;
  /** When the TLS handshake ended: the server's timers start at the request, not before the connect. */
  connectedAt: Promise<number>;
  finish(): void;
  abort(): void;
}

export function halfSent(ep: Endpoint, method: string, path: string, body: unknown): HalfSentRequest {
  const payload = Buffer.from(JSON.stringify(body));
  const half = Math.floor(payload.length / 2);
  const req = httpsRequest(new URL(path, ep.url), {
    method,
    ca: ep.ca,
    agent: false,
    headers: {
      Authorization: `Bearer ${ep.token}`,
      "Content-Type": "application/json",
      "Content-Length": String(payload.length),
    },
  });
  const response = new Promise<HttpResponse>((resolve, reject) => {
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: text,
          json<T = JsonObject>(): T {
            return JSON.parse(text) as T;
          },
        });
      });
    });
  });
  response.catch(() => {});
  const connectedAt = new Promise<number>((resolve) =>
    req.once("socket", (socket) => socket.once("secureConnect", () => resolve(Date.now()))),
  );
  req.flushHeaders();
  req.write(payload.subarray(0, half));
  return {
    response,
    connectedAt,
    finish: () => req.end(payload.subarray(half)),
    abort: () => req.destroy(),
  };
}
