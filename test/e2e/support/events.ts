import type { HttpResponse, JsonObject, WatchEventJson, WatchStream } from "../../support/http.js";

/** What the API answered for one write, as the tests remember it. */
export interface Ack {
  type: "ADDED" | "MODIFIED" | "DELETED";
  name: string;
  /** The resourceVersion of the stored object (creates and updates; a delete's response shows the old one). */
  rv?: number;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const metaOf = (o: JsonObject): JsonObject => (o.metadata ?? {}) as JsonObject;
export const nameOf = (o: JsonObject): string => metaOf(o).name as string;
/** Resource versions are opaque to clients, but both durable backends hand out growing integers. */
export const rvOf = (o: JsonObject): number => Number(metaOf(o).resourceVersion);

/** The watch's object events (no BOOKMARK, no ERROR). */
export const changes = (events: WatchEventJson[]): WatchEventJson[] =>
  events.filter((e) => e.type === "ADDED" || e.type === "MODIFIED" || e.type === "DELETED");

/** `TYPE name rv`, one string per event, for readable comparisons. */
export const describeEvent = (e: WatchEventJson): string => `${e.type} ${nameOf(e.object)} ${rvOf(e.object)}`;

/** Waits until `stream` holds at least `count` object events; returns them (may be fewer on timeout). */
export async function awaitChanges(
  stream: WatchStream,
  count: number,
  timeoutMs: number,
): Promise<WatchEventJson[]> {
  const deadline = Date.now() + timeoutMs;
  while (changes(stream.events).length < count && !stream.isEnded() && Date.now() < deadline) {
    await sleep(50);
  }
  return changes(stream.events);
}

/** Indexes (1-based) where resource versions fail to grow strictly. */
export function rvOrderViolations(events: WatchEventJson[]): string[] {
  const bad: string[] = [];
  for (let i = 1; i < events.length; i++) {
    if (rvOf(events[i].object) <= rvOf(events[i - 1].object))
      bad.push(`#${i}: ${describeEvent(events[i - 1])} then ${describeEvent(events[i])}`);
  }
  return bad;
}

/** The state a client builds by applying `events` in order: name → last object (deleted names removed). */
export function replay(events: WatchEventJson[]): Map<string, JsonObject> {
  const state = new Map<string, JsonObject>();
  for (const e of changes(events)) {
    if (e.type === "DELETED") state.delete(nameOf(e.object));
    else state.set(nameOf(e.object), e.object);
  }
  return state;
}

/** A list's items by name. */
export function byName(items: JsonObject[]): Map<string, JsonObject> {
  return new Map(items.map((o) => [nameOf(o), o]));
}

/** The list's items, or a thrown error with the whole answer. */
export function listItems(res: HttpResponse): { items: JsonObject[]; resourceVersion: number } {
  if (res.status !== 200) throw new Error(`list → ${res.status}: ${res.body}`);
  const body = res.json<{ items: JsonObject[]; metadata: { resourceVersion: string } }>();
  return { items: body.items, resourceVersion: Number(body.metadata.resourceVersion) };
}

/** The value below which `p` (0..1) of the samples fall (nearest rank). */
export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
}
