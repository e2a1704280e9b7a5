import type { KubeObject } from "../apimachinery/types.js";
import { parseListParams } from "../registry/options.js";
import type { RegistryWatchEvent } from "../registry/store.js";
import type { ResourceDef } from "../resources/types.js";
import type { RequestContext, Res } from "./context.js";
import { includeObjectOf, type ResourceScope } from "./handlers/common.js";
import { negotiate, type Negotiated } from "./negotiate.js";
import { encodeShared } from "./event-cache.js";
import { warningHeaders } from "./respond.js";
import { partialMetadata, shapeObject } from "./output.js";

export interface WatchLimits {
  /** Watches without timeoutSeconds end after a random 1–2× this, as kube-apiserver spreads reconnects. */
  minRequestTimeoutMs: number;
  /** Bytes a slow client may leave unread before its watch is closed. */
  maxBufferedBytes: number;
  /** How often a bookmark is forwarded to a client that asked for them. */
  bookmarkIntervalMs: number;
  /** Told of each watch as it streams (metrics). */
  observer?: WatchObserver;
}

/** One open watch as metrics see it. */
export interface WatchTracker {
  /** An event of this type (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR) was written to the client. */
  sent(type: string): void;
  /** The server ended the watch, e.g. "slow": the client read too slowly. */
  dropped(reason: string): void;
  closed(): void;
}

export interface WatchObserver {
  opened(def: ResourceDef): WatchTracker | undefined;
}

/**
 * The empty list a WatchList client may decode its events into, in the shape it asked for
 * (transformInitialEventsListBlueprint: a metadata-only client gets a PartialObjectMetadataList).
 */
function listBlueprint(def: ResourceDef, n: Negotiated): Record<string, unknown> {
  return n.shape === "metadata"
    ? {
        kind: "PartialObjectMetadataList",
        apiVersion: `meta.k8s.io/${n.metaVersion}`,
        metadata: {},
        items: [],
      }
    : { apiVersion: def.groupVersion, kind: def.listKind, metadata: {}, items: [] };
}

function bookmarkObject(def: ResourceDef, rv: string, n: Negotiated, initialEventsEnd: boolean): unknown {
  const metadata: Record<string, unknown> = { resourceVersion: rv };
  if (initialEventsEnd) {
    const blueprint = listBlueprint(def, n);
    metadata.annotations = {
      "k8s.io/initial-events-end": "true",
      "kubernetes.io/initial-events-list-blueprint": Buffer.from(JSON.stringify(blueprint)).toString(
        "base64",
      ),
    };
  }
  if (n.shape === "metadata") return partialMetadata({ metadata } as KubeObject, n.metaVersion);
  return { kind: def.kind, apiVersion: def.groupVersion, metadata };
}

function waitDrain(res: Res, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    res.once("drain", done);
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * Streams watch events: chunked JSON, one event per line, flushed as it happens. The stream ends on
 * timeoutSeconds, on the client leaving, or when the client reads too slowly (it re-watches).
 */
export async function handleWatch(
  ctx: RequestContext,
  scope: ResourceScope,
  limits: WatchLimits,
): Promise<void> {
  const n = negotiate(String(ctx.req.headers.accept ?? ""), "watch");
  const includeObject = includeObjectOf(ctx, n);
  const q = new URLSearchParams(ctx.query);
  // A watch on one object is a watch on the collection selected by its name.
  if (ctx.info.name) {
    const fs = q.get("fieldSelector");
    q.set("fieldSelector", `metadata.name=${ctx.info.name}${fs ? `,${fs}` : ""}`);
  }
  const p = parseListParams(q, true, scope.registry.def.namespaced);
  const { def } = scope.registry;
  const timeoutMs =
    p.timeoutSeconds !== undefined && p.timeoutSeconds > 0
      ? Math.min(p.timeoutSeconds, 2_000_000) * 1000
      : limits.minRequestTimeoutMs * (1 + Math.random());
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  // the client may have left (or shutdown begun) while authentication and authorization were awaited
  if (ctx.signal.aborted) ac.abort();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const { res } = ctx;
  let firstTableEvent = true;
  let events = 0;
  let lastRV = "";
  let dropped = false;
  const tracker = limits.observer?.opened(def);
  const write = (type: string, object: unknown, encoded?: string): boolean => {
    events++;
    tracker?.sent(type);
    if (res.write(`{"type":"${type}","object":${encoded ?? JSON.stringify(object)}}\n`)) return true;
    if (res.writableLength > limits.maxBufferedBytes) {
      ctx.log.watchDropped = "slow client";
      tracker?.dropped("slow");
      dropped = true;
      ac.abort();
    }
    return false;
  };
  // Bookmarks go out on a clock, as kube-apiserver's cacheWatcher sends them: every interval, and
  // once 2 s before the watch times out so the client resumes from the newest version. Like its
  // events, they only report versions after the one the watch started from (cacheWatcher.process):
  // a bookmark echoing the client's own version back would confirm a version the store may never
  // have had.
  let startRV = "";
  const bookmark = () => {
    // not before the initial events are out (startRV is set by the bookmark that ends them): an
    // initial object's version would tell a client resuming from it that it has seen the rest
    if (startRV && lastRV && Number(lastRV) > Number(startRV) && !ac.signal.aborted)
      write("BOOKMARK", bookmarkObject(def, lastRV, n, false));
  };
  const timers: NodeJS.Timeout[] = [];
  if (p.allowWatchBookmarks) {
    timers.push(setInterval(bookmark, limits.bookmarkIntervalMs));
    if (timeoutMs > 2000) timers.push(setTimeout(bookmark, timeoutMs - 2000));
  }
  let stream: AsyncGenerator<RegistryWatchEvent> | undefined;
  try {
    const now = scope.now;
    stream = scope.registry.watch(ctx.info.namespace || undefined, p, ac.signal);
    // The first event fixes where the stream starts (the initial list's version, or the version
    // asked for). Answering only then means a client that has seen the 200 sees every later change,
    // as kube-apiserver's watch handler writes its headers once the watcher is registered.
    let next = await stream.next();
    res.setHeader("Content-Type", "application/json");
    if (ctx.warnings.length) res.setHeader("Warning", warningHeaders(ctx.warnings));
    res.writeHead(200);
    // HTTP/1.1 holds headers until the first write; an idle watch must still answer at once.
    if (typeof res.flushHeaders === "function") res.flushHeaders();
    for (; !next.done; next = await stream.next()) {
      const ev = next.value;
      if (ac.signal.aborted) break;
      let ok = true;
      if (ev.type === "BOOKMARK") {
        // the registry's first bookmark is where the stream starts
        startRV ||= ev.resourceVersion;
        if (ev.resourceVersion !== "0") lastRV = ev.resourceVersion;
        // only for clients that take bookmarks (getBookmarkAfterResourceVersionLockedFunc)
        if (ev.initialEventsEnd && p.allowWatchBookmarks)
          ok = write("BOOKMARK", bookmarkObject(def, ev.resourceVersion, n, true));
      } else if (ev.type === "ERROR") {
        write("ERROR", ev.error.toStatus());
        break;
      } else {
        lastRV = ev.object.metadata.resourceVersion ?? lastRV;
        if (n.shape === "table") {
          // Tables carry ages computed now: not shareable.
          ok = write(ev.type, shapeObject(def, ev.object, n, includeObject, now(), firstTableEvent));
          firstTableEvent = false;
        } else {
          const source = ev.object;
          const json = encodeShared(`${n.shape}/${n.metaVersion}`, source, () =>
            shapeObject(def, source, n, includeObject, now()),
          );
          ok = write(ev.type, undefined, json);
        }
      }
      if (!ok && !dropped) await waitDrain(res, ac.signal);
      if (dropped) break;
    }
  } finally {
    for (const t of timers) clearTimeout(t);
    clearTimeout(timer);
    ctx.signal.removeEventListener("abort", onAbort);
    ac.abort();
    ctx.log.watchEvents = events;
    tracker?.closed();
    // ends the registry's stream if we left it mid-way (a slow client, an ERROR event)
    stream?.return(undefined).catch((err: unknown) => {
      ctx.log.watchCloseError ??= err instanceof Error ? err.message : String(err);
    });
    // before the headers, a failure is the caller's to answer with a Status
    if (res.headersSent && !res.writableEnded) res.end();
  }
}
