import type { KubeObject } from "../apimachinery/types.js";
import type { ResourceDef } from "../resources/types.js";
import { toTable } from "../registry/table.js";
import type { ListPage } from "../registry/store.js";
import type { RequestContext } from "./context.js";
import { contentType, type Negotiated } from "./negotiate.js";
import { encode, writeBody } from "./respond.js";
import { encodedLength, writeEncoded } from "../storage/encoded.js";
import type { EncodedJson } from "../storage/encoded.js";

export type IncludeObject = "None" | "Metadata" | "Object";

/** The object as the client asked to see it: itself, its metadata, or a one-row Table. */
export function shapeObject(
  def: ResourceDef,
  obj: KubeObject,
  n: Negotiated,
  includeObject: IncludeObject,
  now: Date,
  withColumns = true,
): unknown {
  if (n.shape === "metadata") return partialMetadata(obj, n.metaVersion);
  if (n.shape === "table") {
    const t = toTable(def, [obj], {
      includeObject,
      listMeta: {},
      now,
      withColumnDefinitions: withColumns,
      tableVersion: n.metaVersion,
    });
    if (obj.metadata.resourceVersion)
      (t.metadata as Record<string, unknown>).resourceVersion = obj.metadata.resourceVersion;
    return t;
  }
  return obj;
}

export function partialMetadata(obj: KubeObject, version = "v1"): Record<string, unknown> {
  return { kind: "PartialObjectMetadata", apiVersion: `meta.k8s.io/${version}`, metadata: obj.metadata };
}

/**
 * A list's metadata. A custom resource list (unstructured) always has `continue`, "" on the last
 * page, as kube-apiserver's versioner sets it; Table and PartialObjectMetadataList omit it when empty.
 */
function listMeta(page: ListPage, unstructured = false): Record<string, unknown> {
  const m: Record<string, unknown> = { resourceVersion: page.resourceVersion };
  if (page.continue || unstructured) m.continue = page.continue ?? "";
  if (page.remainingItemCount !== undefined) m.remainingItemCount = page.remainingItemCount;
  return m;
}

/** The metadata of a list whose pages were all joined into one answer: it is the last page. */
function endOfList(doc: Record<string, unknown>, n: Negotiated): void {
  const meta = doc.metadata as Record<string, unknown>;
  if (n.shape === "object") meta.continue = "";
  else delete meta.continue;
  delete meta.remainingItemCount;
}

/**
 * Writes a list in the negotiated shape. Pages arrive one at a time and JSON lists are streamed page
 * by page, so a list without a limit never holds the whole table in memory.
 */
export async function writeList(
  ctx: RequestContext,
  def: ResourceDef,
  pages: AsyncIterable<ListPage>,
  n: Negotiated,
  includeObject: IncludeObject,
  now: Date,
  /** Whether `pages` are chunks of one list to be joined (a list without a limit). */
  merge: boolean,
): Promise<void> {
  const iter = pages[Symbol.asyncIterator]();
  const first = await iter.next();
  if (first.done) throw new Error("list produced no page");
  const page: ListPage = first.value;
  const ct = contentType(n, "list");
  const itemsOf = (p: ListPage): unknown[] =>
    n.shape === "metadata" ? p.items.map((o) => partialMetadata(o, n.metaVersion)) : p.items;
  const head = (p: ListPage): Record<string, unknown> => {
    if (n.shape === "table") {
      return toTable(def, p.items, {
        includeObject,
        listMeta: listMeta(p),
        now,
        tableVersion: n.metaVersion,
      });
    }
    if (n.shape === "metadata") {
      return {
        kind: "PartialObjectMetadataList",
        apiVersion: `meta.k8s.io/${n.metaVersion}`,
        metadata: listMeta(p),
        items: itemsOf(p),
      };
    }
    return { apiVersion: def.groupVersion, kind: def.listKind, metadata: listMeta(p, true), items: p.items };
  };
  const firstDoc = head(page);
  // Items that came as JSON text (plain JSON lists) are written as they are.
  const jsonItems = (p: ListPage): EncodedJson[] | undefined =>
    n.shape === "object" ? p.encoded : undefined;
  const encodedItems = jsonItems(page);
  // One page (a list with a limit), or YAML: encode the whole document at once.
  if (!merge || !page.continue) {
    writeBody(ctx, 200, encodedItems ? joinItems(firstDoc, encodedItems) : encode(firstDoc, n.encoding), ct);
    return;
  }
  if (n.encoding === "yaml") {
    const key = n.shape === "table" ? "rows" : "items";
    const all = firstDoc[key] as unknown[];
    for (let r = await iter.next(); !r.done; r = await iter.next()) {
      all.push(...((head(r.value)[key] as unknown[]) ?? []));
    }
    endOfList(firstDoc, n);
    writeBody(ctx, 200, encode(firstDoc, n.encoding), ct);
    return;
  }
  // Many pages: stream. The array is written last so that pages can be appended to it.
  const key = n.shape === "table" ? "rows" : "items";
  const firstItems = firstDoc[key] as unknown[];
  delete firstDoc[key];
  endOfList(firstDoc, n);
  const { res } = ctx;
  res.statusCode = 200;
  res.setHeader("Content-Type", ct);
  const headJson = JSON.stringify(firstDoc);
  let wrote = false;
  // A client that leaves mid-list never drains: stop waiting when the request ends, or the handler
  // (and its in-flight slot) would be held until the request timeout.
  const drained = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        res.off("drain", done);
        ctx.signal.removeEventListener("abort", done);
        resolve();
      };
      res.once("drain", done);
      ctx.signal.addEventListener("abort", done, { once: true });
    });
  const writeItems = async (p: ListPage, items: unknown[]) => {
    const texts = jsonItems(p);
    const count = texts ? texts.length : items.length;
    for (let i = 0; i < count; i++) {
      if (ctx.signal.aborted) return;
      const text = texts ? texts[i] : JSON.stringify(items[i]);
      const ok = res.write(typeof text === "string" ? (wrote ? `,${text}` : text) : joinPieces(text, wrote));
      wrote = true;
      if (!ok) await drained();
    }
  };
  res.write(`${headJson.slice(0, -1)},"${key}":[`);
  await writeItems(page, firstItems);
  for (let r = await iter.next(); !r.done; r = await iter.next()) {
    if (ctx.signal.aborted) break;
    await writeItems(r.value, (head(r.value)[key] as unknown[]) ?? []);
  }
  // Cut short (the client left, or the request timed out): an incomplete list must not look whole.
  if (ctx.signal.aborted) res.destroy();
  else res.end("]}");
}

/**
 * A list document whose items are already JSON: the head's own `items` (empty) replaced by them.
 * Written straight into one buffer: joining the texts into one string first copied a whole page
 * (megabytes) once more and left it to the garbage collector.
 */
function joinItems(doc: Record<string, unknown>, items: EncodedJson[]): Buffer {
  const { items: _empty, ...rest } = doc;
  const head = `${JSON.stringify(rest).slice(0, -1)},"items":[`;
  let length = Buffer.byteLength(head) + 2 + Math.max(0, items.length - 1);
  for (const item of items) length += encodedLength(item);
  const out = Buffer.allocUnsafe(length);
  let at = out.write(head);
  items.forEach((item, i) => {
    if (i > 0) at = out.writeUInt8(0x2c, at);
    at = writeEncoded(item, out, at);
  });
  out.write("]}", at);
  return out;
}

/** An item in pieces as one write, after a comma unless it is the first. */
function joinPieces(pieces: readonly Buffer[], comma: boolean): Buffer {
  return Buffer.concat(comma ? [COMMA, ...pieces] : pieces);
}

const COMMA = Buffer.from(",");
