import { WatchFanout } from "../fanout.js";
import type { HistoryReader } from "../fanout.js";
import type { RawChange, StorageResource } from "../interface.js";
import { StorageError } from "../interface.js";
import { rowToChange, selectHistoryPage } from "./changelog.js";
import type { Db } from "./queries.js";

const HISTORY_PAGE = 500;

/**
 * What a new watcher missed: the resource's changelog rows after its start, read in pages, but only
 * up to the poller's position at the time of the call. Rows above that may still have lower ids in
 * flight; the fan-out delivers those live, in order, once the poller has passed them.
 */
export function changelogHistory(db: Db, resolved: () => number): HistoryReader {
  return (resource: StorageResource, after: number, signal: AbortSignal) =>
    readHistory(db, resource, after, resolved(), signal);
}

async function* readHistory(
  db: Db,
  resource: StorageResource,
  after: number,
  upTo: number,
  signal: AbortSignal,
): AsyncGenerator<RawChange> {
  let cursor = after;
  do {
    if (signal.aborted) return;
    const { compacted, rows } = await selectHistoryPage(db, resource, cursor, upTo, HISTORY_PAGE);
    if (cursor < compacted) {
      throw new StorageError(
        "Compacted",
        `too old resource version: ${after} (${compacted + 1})`,
        compacted + 1,
      );
    }
    for (const row of rows) {
      const change = rowToChange(row);
      if (change) yield change;
    }
    if (rows.length < HISTORY_PAGE) return;
    cursor = Number(rows[rows.length - 1].id);
  } while (cursor < upTo);
}

export interface FanoutSettings {
  watchBufferSize?: number;
  bookmarkIntervalMs?: number;
}

export function newFanout(db: Db, resolved: () => number, settings: FanoutSettings): WatchFanout {
  return new WatchFanout({
    history: changelogHistory(db, resolved),
    watchBufferSize: settings.watchBufferSize,
    bookmarkIntervalMs: settings.bookmarkIntervalMs,
    initialResourceVersion: resolved(),
  });
}
