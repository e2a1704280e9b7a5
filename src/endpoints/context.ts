import type { IncomingMessage, ServerResponse } from "node:http";
import type { UserInfo } from "../apimachinery/types.js";
import type { RequestInfo } from "./requestinfo.js";

/**
 * HTTP/1.1 and HTTP/2 (compat API) requests look alike for everything handlers use; they are typed
 * as the HTTP/1 classes, and code that needs a method only one has checks for it.
 */
export type Req = IncomingMessage;
export type Res = ServerResponse;

/** One request as the filter chain and handlers see it. */
export interface RequestContext {
  req: Req;
  res: Res;
  method: string;
  path: string;
  query: URLSearchParams;
  info: RequestInfo;
  user?: UserInfo;
  /** Aborted when the client goes away, the request times out, or the server shuts down. */
  signal: AbortSignal;
  /** Aborts `signal` (request timeout, shutdown). */
  abort(): void;
  /** The request body, read once, bounded by the server's body limit. */
  body(): Promise<Buffer>;
  /** `Warning` headers to send with the response. */
  warnings: string[];
  /** Filled by handlers for the request log. */
  log: Record<string, unknown>;
}
