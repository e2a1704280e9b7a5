import { Agent, request as httpsRequest } from "node:https";
import { connect, constants, type ClientHttp2Session } from "node:http2";

/**
 * The load generator's HTTP client: HTTP/2 sessions (as client-go talks to an aggregated server) or
 * HTTP/1.1 keep-alive sockets, both with the admin token or the aggregator's identity. Responses are
 * kept as bytes; callers parse only what they need, so the client spends its share of the two cores
 * on sending load.
 */

export type Transport = "h2" | "h1";

export interface HttpResponse {
  status: number;
  body: Buffer;
}

export interface OpenStream {
  close(): void;
  /** Settles when the server ends the stream or it is closed. */
  readonly ended: Promise<void>;
}

export interface HttpClient {
  request(method: string, path: string, body?: string, accept?: string): Promise<HttpResponse>;
  /** Opens a long-lived GET (a watch); resolves once the response headers arrived with a 200. */
  stream(path: string, accept: string | undefined, onData: (chunk: Buffer) => void): Promise<OpenStream>;
  close(): void;
}

/** A client certificate and headers that stand for the bearer token (the aggregator's identity). */
export interface ClientIdentity {
  cert: string;
  key: string;
  headers: Record<string, string>;
}

export interface ClientOptions {
  url: string;
  ca: string;
  token: string;
  /** Sent instead of the token when set. */
  identity?: ClientIdentity;
  transport: Transport;
  /** HTTP/2 sessions (requests round-robin over them) or HTTP/1.1 sockets for requests. */
  connections: number;
}

const JSON_TYPE = "application/json";

/** The headers that authenticate every request. */
function credentials(opts: ClientOptions): Record<string, string> {
  return opts.identity ? opts.identity.headers : { authorization: `Bearer ${opts.token}` };
}

export function createClient(opts: ClientOptions): HttpClient {
  return opts.transport === "h2" ? new H2Client(opts) : new H1Client(opts);
}

class H2Client implements HttpClient {
  private readonly sessions: ClientHttp2Session[] = [];
  private next = 0;
  private readonly auth: Record<string, string>;

  constructor(private readonly opts: ClientOptions) {
    this.auth = credentials(opts);
  }

  private session(): ClientHttp2Session {
    const i = this.next++ % Math.max(1, this.opts.connections);
    let s = this.sessions[i];
    if (!s || s.closed || s.destroyed) {
      // A large window so a 500-item page is not paced by flow-control round trips.
      s = connect(this.opts.url, {
        ca: this.opts.ca,
        cert: this.opts.identity?.cert,
        key: this.opts.identity?.key,
        settings: { initialWindowSize: 16 * 1024 * 1024 },
      });
      s.on("connect", () => s.setLocalWindowSize(64 * 1024 * 1024));
      s.on("error", () => {});
      s.unref();
      this.sessions[i] = s;
    }
    return s;
  }

  request(method: string, path: string, body?: string, accept = JSON_TYPE): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = {
        [constants.HTTP2_HEADER_METHOD]: method,
        [constants.HTTP2_HEADER_PATH]: path,
        ...this.auth,
        accept,
      };
      if (body !== undefined) headers["content-type"] = JSON_TYPE;
      const req = this.session().request(headers, { endStream: body === undefined });
      const chunks: Buffer[] = [];
      let status = 0;
      req.on("response", (h) => (status = Number(h[constants.HTTP2_HEADER_STATUS])));
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => resolve({ status, body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks) }));
      req.on("error", reject);
      if (body !== undefined) req.end(body);
    });
  }

  stream(path: string, accept = JSON_TYPE, onData: (chunk: Buffer) => void): Promise<OpenStream> {
    return new Promise((resolve, reject) => {
      const req = this.session().request({
        [constants.HTTP2_HEADER_PATH]: path,
        ...this.auth,
        accept,
      });
      const ended = new Promise<void>((r) => req.once("close", () => r()));
      req.on("response", (h) => {
        const status = Number(h[constants.HTTP2_HEADER_STATUS]);
        if (status !== 200) {
          req.close();
          reject(new Error(`watch ${path}: HTTP ${status}`));
          return;
        }
        resolve({ close: () => req.close(), ended });
      });
      req.on("data", onData);
      req.on("error", reject);
    });
  }

  close(): void {
    for (const s of this.sessions) s.close();
  }
}

class H1Client implements HttpClient {
  private readonly agent: Agent;
  private readonly streamAgent: Agent;
  private readonly base: URL;
  private readonly auth: Record<string, string>;

  constructor(opts: ClientOptions) {
    this.base = new URL(opts.url);
    this.auth = credentials(opts);
    const tls = { ca: opts.ca, cert: opts.identity?.cert, key: opts.identity?.key };
    this.agent = new Agent({ keepAlive: true, maxSockets: opts.connections, ...tls });
    // Watches hold their socket for good: a pool of their own so requests never queue behind them.
    this.streamAgent = new Agent({ keepAlive: false, maxSockets: Infinity, ...tls });
  }

  request(method: string, path: string, body?: string, accept = JSON_TYPE): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { ...this.auth, accept };
      if (body !== undefined) {
        headers["content-type"] = JSON_TYPE;
        headers["content-length"] = Buffer.byteLength(body);
      }
      const req = httpsRequest(
        { host: this.base.hostname, port: this.base.port, method, path, headers, agent: this.agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks),
            }),
          );
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  stream(path: string, accept = JSON_TYPE, onData: (chunk: Buffer) => void): Promise<OpenStream> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host: this.base.hostname,
          port: this.base.port,
          path,
          headers: { ...this.auth, accept },
          agent: this.streamAgent,
        },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            reject(new Error(`watch ${path}: HTTP ${res.statusCode}`));
            return;
          }
          const ended = new Promise<void>((r) => res.once("close", () => r()));
          res.on("data", onData);
          res.on("error", () => {});
          resolve({ close: () => req.destroy(), ended });
        },
      );
      req.on("error", reject);
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
    this.streamAgent.destroy();
  }
}
