import type { KubeObject } from "../apimachinery/types.js";
import { isKubeApiError, type KubeClient, type Query } from "./kubeclient.js";
import { errorMessage, silentLog, type ClusterLog } from "./log.js";
import { sleep } from "./sleep.js";

/**
 * Keep up with a collection of the kube-apiserver, as an informer does: list, then watch from the
 * list's resource version; when the watch ends (its `timeoutSeconds` doubles as a periodic resync)
 * list again; on errors (e.g. 410 Expired) wait `retryMs` and list again.
 */

export interface FollowOptions<T extends KubeObject> {
  query?: Query;
  /** Every full list (first sync and each resync). */
  onList: (items: T[]) => void | Promise<void>;
  onEvent: (type: "ADDED" | "MODIFIED" | "DELETED", obj: T) => void | Promise<void>;
  /** How long one watch runs before a relist (default 60 s). */
  resyncMs?: number;
  retryMs?: number;
  log?: ClusterLog;
}

export interface Follower {
  /** Resolves after the first successful list; rejects if the first attempt fails (retries go on). */
  synced: Promise<void>;
  stop(): void;
}

export function follow<T extends KubeObject>(
  client: KubeClient,
  path: string,
  opts: FollowOptions<T>,
): Follower {
  const abort = new AbortController();
  const log = opts.log ?? silentLog;
  const resyncSeconds = Math.max(1, Math.round((opts.resyncMs ?? 60_000) / 1000));
  const retryMs = opts.retryMs ?? 2_000;
  let settle: { resolve: () => void; reject: (e: unknown) => void } | undefined;
  const synced = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  synced.catch(() => {});

  const loop = async () => {
    while (!abort.signal.aborted) {
      try {
        const list = await client.list<{ items: T[]; metadata: { resourceVersion: string } }>(
          path,
          opts.query,
        );
        await opts.onList(list.items ?? []);
        settle?.resolve();
        settle = undefined;
        await client.watch<T>(
          path,
          {
            ...opts.query,
            resourceVersion: list.metadata.resourceVersion,
            timeoutSeconds: resyncSeconds,
            allowWatchBookmarks: true,
          },
          async (ev) => {
            if (ev.type === "ADDED" || ev.type === "MODIFIED" || ev.type === "DELETED")
              await opts.onEvent(ev.type, ev.object);
          },
          abort.signal,
        );
      } catch (err) {
        if (abort.signal.aborted) break;
        if (settle) {
          settle.reject(err);
          settle = undefined;
        }
        if (!isKubeApiError(err, 410))
          log.warn({ path, err: errorMessage(err) }, "watch of the kube-apiserver failed; retrying");
        await sleep(retryMs, abort.signal);
      }
    }
  };
  void loop();
  return { synced, stop: () => abort.abort() };
}
