import { connect } from "node:http2";
import { request as httpsRequest } from "node:https";
import type { Endpoint, JsonObject } from "../../support/http.js";

/**
 * Watches opened the way Kyverno's metadata informers open them (client-go's metadata client and
 * reflector), recording every event as type, name and resource version. Both transports client-go
 * may use are offered: HTTP/2 (what it negotiates with an aggregated server) and HTTP/1.1.
 */

/** Exactly what client-go's metadata client sends for a watch (KYVERNO-CLIENT.md). */
export const METADATA_WATCH_ACCEPT =
  "application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";
/** …and for the list an informer makes before it watches. */
export const METADATA_LIST_ACCEPT =
  "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";

export type Transport = "h1" | "h2";

export interface SeenEvent {
  type: string;
  /** `namespace/name` (or `name` for cluster objects); "" for a BOOKMARK. */
  key: string;
  rv: number;
  /** The object's kind as sent (PartialObjectMetadata for a metadata watch). */
  kind: string;
}

export interface RecordedWatch {
  readonly label: string;
  /** Every event received, in order (bookmarks included). */
  readonly events: SeenEvent[];
  /** Problems: a non-JSON line, an ERROR event, the stream ending early. */
  readonly problems: string[];
  /** The highest resource version seen in an event or a bookmark. */
  highest(): number;
  close(): void;
}

const keyOf = (meta: JsonObject): string =>
  meta.namespace ? `${String(meta.namespace)}/${String(meta.name)}` : String(meta.name ?? "");

/** Splits a byte stream into lines and records each as an event. */
function recorder(label: string): {
  watch: RecordedWatch;
  feed(chunk: Buffer): void;
  ended(why: string): void;
  setClose(fn: () => void): void;
} {
  const events: SeenEvent[] = [];
  const problems: string[] = [];
  let pending: Buffer = Buffer.alloc(0);
  let highest = 0;
  let closing = false;
  let closeFn = () => {};
  const line = (text: string) => {
    let parsed: { type: string; object: JsonObject };
    try {
      parsed = JSON.parse(text) as { type: string; object: JsonObject };
    } catch {
      problems.push(`not a JSON line: ${text.slice(0, 200)}`);
      return;
    }
    const meta = (parsed.object.metadata ?? {}) as JsonObject;
    const rv = Number(meta.resourceVersion);
    if (parsed.type === "ERROR") problems.push(`ERROR event: ${text.slice(0, 300)}`);
    if (rv > highest) highest = rv;
    events.push({
      type: parsed.type,
      key: parsed.type === "BOOKMARK" ? "" : keyOf(meta),
      rv,
      kind: String(parsed.object.kind),
    });
  };
  return {
    watch: {
      label,
      events,
      problems,
      highest: () => highest,
      close: () => {
        closing = true;
        closeFn();
      },
    },
    feed(chunk) {
      // Bytes, not strings: a multi-byte character may straddle two chunks.
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      let nl: number;
      while ((nl = pending.indexOf(10)) >= 0) {
        const text = pending.toString("utf8", 0, nl).trim();
        pending = pending.subarray(nl + 1);
        if (text) line(text);
      }
    },
    ended(why) {
      if (!closing) problems.push(`stream ended before the test closed it: ${why}`);
    },
    setClose(fn) {
      closeFn = fn;
    },
  };
}

/** The resource version a list answered with, listed with the metadata client's Accept. */
export async function listResourceVersion(ep: Endpoint, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      new URL(path, ep.url),
      { ca: ep.ca, headers: { authorization: `Bearer ${ep.token}`, accept: METADATA_LIST_ACCEPT } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8");
          if (res.statusCode !== 200) return reject(new Error(`list ${path} → ${res.statusCode}: ${body}`));
          const list = JSON.parse(body) as { kind: string; metadata: { resourceVersion: string } };
          if (list.kind !== "PartialObjectMetadataList")
            return reject(new Error(`list ${path} answered ${list.kind}, not PartialObjectMetadataList`));
          resolve(list.metadata.resourceVersion);
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/**
 * Opens `path` (a collection, with the reflector's query: watch, resourceVersion, bookmarks) with
 * the metadata Accept; resolves once the server answered 200 with JSON.
 */
export function openMetadataWatch(
  ep: Endpoint,
  path: string,
  transport: Transport,
  label: string,
): Promise<RecordedWatch> {
  const r = recorder(label);
  const headers = { authorization: `Bearer ${ep.token}`, accept: METADATA_WATCH_ACCEPT };
  const checkHeaders = (status: number, contentType: string | undefined): string | undefined => {
    if (status !== 200) return `watch ${path} → HTTP ${status}`;
    if (!contentType?.startsWith("application/json")) return `watch ${path} answered ${contentType}`;
    return undefined;
  };
  return new Promise((resolve, reject) => {
    if (transport === "h2") {
      const session = connect(ep.url, { ca: ep.ca });
      session.on("error", (e) => r.ended(`session error ${e.message}`));
      const stream = session.request({ ":method": "GET", ":path": path, ...headers });
      r.setClose(() => session.destroy());
      stream.on("response", (h) => {
        const bad = checkHeaders(Number(h[":status"]), h["content-type"]);
        if (bad) {
          session.destroy();
          reject(new Error(bad));
        } else resolve(r.watch);
      });
      stream.on("data", (c: Buffer) => r.feed(c));
      stream.on("error", (e) => r.ended(`stream error ${e.message}`));
      stream.on("close", () => r.ended(`stream closed (code ${stream.rstCode})`));
      return;
    }
    const req = httpsRequest(new URL(path, ep.url), { ca: ep.ca, headers }, (res) => {
      const bad = checkHeaders(res.statusCode ?? 0, res.headers["content-type"]);
      if (bad) {
        res.resume();
        reject(new Error(bad));
        return;
      }
      r.setClose(() => req.destroy());
      res.on("data", (c: Buffer) => r.feed(c));
      res.on("error", (e) => r.ended(`response error ${e.message}`));
      res.on("close", () => r.ended("response closed"));
      resolve(r.watch);
    });
    req.on("error", (e) => {
      r.ended(`request error ${e.message}`);
      reject(e);
    });
    req.end();
  });
}
