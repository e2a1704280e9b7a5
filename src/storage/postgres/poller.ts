import type { RawChange } from "../interface.js";
import { StorageError } from "../interface.js";
import { fillGap, rowToChange, selectChangeData, selectChangesAfter } from "./changelog.js";
import type { ChangelogRow } from "./changelog.js";
import type { StorageLog } from "./options.js";
import type { Db } from "./queries.js";

export interface PollerOptions {
  /** Sleep between reads when no NOTIFY arrives. */
  pollIntervalMs: number;
  /** How long a missing id may stay missing before the poller claims it with a gap row. */
  gapWaitMs: number;
  batchSize: number;
  log: StorageLog;
  /** This cluster's changes up to `resolved`, in id order; called with [] when only other rows passed. */
  deliver(changes: RawChange[], resolved: number): void;
  /**
   * Whether anybody in this process watches the resource (a `group/resource` column value). Rows of
   * unwatched resources are not decoded: parsing every written object twice (before and after) for
   * nobody was most of what a write cost this process. Asked just before `deliver`, in the same turn.
   */
  watched(resourceColumn: string): boolean;
  /** The resources watched now (`group/resource` column values): only their objects are read. */
  watchedResources(): string[];
  /** Whether a watcher of the resource needs the object an update replaced (a label selector). */
  needsPrevious(resourceColumn: string): boolean;
  /** The resources for which needsPrevious holds now: only theirs are read. */
  resourcesNeedingPrevious(): string[];
  /** The changelog was pruned past where the poller stood: watchers may have missed changes. */
  lostHistory(compacted: number): void;
}

/**
 * The one reader of the changelog in a process: it moves a cursor `resolved` forward only over
 * consecutive ids (kine's poll loop), so changes come out in resource version order, each once, even
 * when transactions commit out of order. A missing id is either a transaction still open or one that
 * rolled back; after `gapWaitMs` the poller claims it (fillGap), which waits out an open one.
 */
export class ChangelogPoller {
  private resolvedUpTo = 0;
  private stopped = false;
  private wakeUp: (() => void) | undefined;
  private nudged = false;
  private gapAt = 0;
  private gapSince = 0;
  private waiters: { rv: number; resolve: () => void }[] = [];
  private loopDone: Promise<void> | undefined;
  private lastError = 0;
  healthy = true;

  constructor(
    private readonly db: Db,
    private readonly options: PollerOptions,
  ) {}

  /** Every changelog id at or below this is committed (or claimed as a gap) and delivered. */
  get resolved(): number {
    return this.resolvedUpTo;
  }

  /** Starts reading after changelog id `from`, treated as resolved. */
  start(from: number): void {
    if (this.loopDone) return;
    this.resolvedUpTo = from;
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.nudge();
    await this.loopDone;
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
  }

  /** Something was written (NOTIFY, or a write of this process): read now. */
  nudge(): void {
    this.nudged = true;
    this.wakeUp?.();
  }

  /** Resolves once the cursor reaches `rv`; Unavailable if it does not within `timeoutMs`. */
  waitFor(rv: number, timeoutMs: number): Promise<void> {
    if (this.resolvedUpTo >= rv) return Promise.resolve();
    this.nudge();
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        rv,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(
          new StorageError("Unavailable", `changes up to resource version ${rv} did not settle in time`),
        );
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let next: "now" | "soon" | "idle";
      try {
        next = await this.pollOnce();
        this.healthy = true;
      } catch (err) {
        this.healthy = false;
        const now = Date.now();
        if (now - this.lastError > 30_000) {
          this.lastError = now;
          this.options.log.warn(
            { err: String(err) },
            "reading the changelog failed; watches wait until it recovers",
          );
        }
        next = "idle";
      }
      if (next === "now") continue;
      await this.sleep(
        next === "soon" ? this.options.gapWaitMs : this.options.pollIntervalMs,
        next === "idle",
      );
    }
  }

  private sleep(ms: number, wakeOnNudge: boolean): Promise<void> {
    if (wakeOnNudge && this.nudged) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        if (this.wakeUp === finish) this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(finish, ms);
      if (wakeOnNudge || this.stopped) this.wakeUp = finish;
    });
  }

  private async pollOnce(): Promise<"now" | "soon" | "idle"> {
    const from = this.resolvedUpTo;
    // whatever a NOTIFY announced before this read is seen by it
    this.nudged = false;
    const { compacted, rows } = await selectChangesAfter(
      this.db,
      from,
      this.options.batchSize,
      this.options.watchedResources(),
      this.options.resourcesNeedingPrevious(),
    );
    if (compacted > from) {
      this.options.log.warn({ from, compacted }, "the changelog was pruned past this replica's position");
      this.advance([], compacted);
      this.options.lostHistory(compacted);
      return "now";
    }
    let rev = from;
    let next: "now" | "soon" | "idle" = rows.length === this.options.batchSize ? "now" : "idle";
    const taken: ChangelogRow[] = [];
    for (const row of rows) {
      const id = Number(row.id);
      if (id !== rev + 1) {
        next = await this.onGap(rev + 1, id - 1);
        break;
      }
      rev = id;
      taken.push(row);
    }
    // Rows of resources that gained a watcher (one with a label selector) while they were read come
    // without their objects (the previous one): read those again. Only the last check, with nothing
    // awaited after it, counts: whoever subscribes later gets these rows from history instead.
    // (a row read again holds all the database has: it is not asked for twice)
    const full = new Set<ChangelogRow>();
    for (let missing = this.unread(taken, full); missing.length > 0; missing = this.unread(taken, full)) {
      const found = await selectChangeData(
        this.db,
        missing.map((r) => r.id),
      );
      for (const row of missing) {
        const got = found.get(row.id);
        // pruned meanwhile by a replica further on: read again from the same position, which then
        // finds the compaction point past it and ends the watches that lost history
        if (!got?.data) return "now";
        row.data = got.data;
        row.prev_data = got.prev_data;
        full.add(row);
      }
    }
    if (rev > from) this.advance(this.decodeWatched(taken), rev);
    return next;
  }

  /** This cluster's changes that someone watches now but that were read without what they need. */
  private unread(rows: ChangelogRow[], full: Set<ChangelogRow>): ChangelogRow[] {
    return rows.filter(
      (r) =>
        r.mine &&
        !full.has(r) &&
        r.kind !== "G" &&
        this.options.watched(r.resource) &&
        (r.data === null ||
          (r.kind === "M" && r.prev_data === null && this.options.needsPrevious(r.resource))),
    );
  }

  /** Decoded in the turn that delivers them, so a watcher that subscribed meanwhile is not skipped. */
  private decodeWatched(rows: ChangelogRow[]): RawChange[] {
    const changes: RawChange[] = [];
    for (const row of rows) {
      if (!row.mine || !this.options.watched(row.resource)) continue;
      const change = this.decode(row);
      if (change) changes.push(change);
    }
    return changes;
  }

  /** A row that cannot be read is logged and passed over: it must not stop every watch. */
  private decode(row: ChangelogRow): RawChange | undefined {
    try {
      return rowToChange(row);
    } catch (err) {
      this.options.log.error(
        { err: String(err), resourceVersion: row.id },
        "unreadable changelog row skipped",
      );
      return undefined;
    }
  }

  /** Ids [from, to] are missing while a later one is visible. */
  private async onGap(from: number, to: number): Promise<"now" | "soon"> {
    const now = Date.now();
    if (this.gapAt !== from) {
      // usually a transaction that took its id a moment before a later one and commits any moment
      this.gapAt = from;
      this.gapSince = now;
      return "soon";
    }
    if (now - this.gapSince < this.options.gapWaitMs) return "soon";
    await fillGap(this.db, from, Math.min(to, from + 10_000));
    return "now";
  }

  private advance(changes: RawChange[], rev: number): void {
    this.resolvedUpTo = rev;
    this.options.deliver(changes, rev);
    if (this.waiters.length === 0) return;
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (w.rv <= rev) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }
}
