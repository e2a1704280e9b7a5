import { follow, type Follower } from "./follow.js";
import { isKubeApiError, type KubeClient } from "./kubeclient.js";
import { errorMessage, silentLog, type ClusterLog } from "./log.js";
import {
  apiServiceDrift,
  apiServiceName,
  APISERVICES_PATH,
  desiredAPIService,
  mergeAPIService,
  pointsAt,
  type APIService,
  type APIServiceSettings,
  type GroupVersionRef,
} from "./apiservice-spec.js";

export * from "./apiservice-spec.js";

/**
 * Keeps one APIService per served group-version as we want it: creates it, puts it back when someone
 * changes it (watch + periodic resync), retries on resourceVersion conflicts. It never deletes one:
 * a replica that shuts down must not hand the groups back to the CRDs while others serve
 * (reports-server issue 343); handing back is an explicit uninstall step.
 *
 * Order of a takeover: when an APIService does not yet send its group-version to our Service,
 * `beforeTakeover` runs first (the migration of CRD-stored reports, which must read them while the
 * kube-apiserver still serves them from the CRDs); only when it succeeds is the APIService switched.
 */

export interface APIServiceReconcilerConfig extends Omit<APIServiceSettings, "caBundlePem"> {
  client: KubeClient;
  groupVersions: GroupVersionRef[];
  /** The serving CA now (it may rotate; call reconcileAll() after it did). */
  caBundle: () => string | undefined;
  /** `signal` aborts when the reconciler is stopped (this replica stopped leading). */
  beforeTakeover?: (
    gv: GroupVersionRef,
    current: APIService | undefined,
    signal: AbortSignal,
  ) => Promise<void>;
  /** Full check of every APIService at least this often (default 60 s). */
  resyncMs?: number;
  log?: ClusterLog;
}

export type ReconcileOutcome = "created" | "updated" | "unchanged" | "failed";

export interface APIServiceReconciler {
  reconcile(gv: GroupVersionRef): Promise<ReconcileOutcome>;
  reconcileAll(): Promise<Record<string, ReconcileOutcome>>;
  /** Follow APIService changes until stop() (call while leading). */
  start(): void;
  stop(): void;
}

const MAX_CONFLICT_RETRIES = 5;

export function createAPIServiceReconciler(cfg: APIServiceReconcilerConfig): APIServiceReconciler {
  const log = cfg.log ?? silentLog;
  const byName = new Map(cfg.groupVersions.map((gv) => [apiServiceName(gv), gv]));
  const queues = new Map<string, Promise<ReconcileOutcome>>();
  let follower: Follower | undefined;
  let term = new AbortController();

  const desired = (gv: GroupVersionRef) =>
    desiredAPIService(gv, {
      service: cfg.service,
      caBundlePem: cfg.caBundle(),
      insecureSkipTLSVerify: cfg.insecureSkipTLSVerify,
      groupPriorityMinimum: cfg.groupPriorityMinimum,
      versionPriority: cfg.versionPriority,
    });

  const once = async (gv: GroupVersionRef): Promise<ReconcileOutcome> => {
    const name = apiServiceName(gv);
    for (let i = 0; i < MAX_CONFLICT_RETRIES; i++) {
      let current: APIService | undefined;
      try {
        current = await cfg.client.get<APIService>(`${APISERVICES_PATH}/${name}`);
      } catch (err) {
        if (!isKubeApiError(err, 404)) throw err;
      }
      const signal = term.signal;
      if (!pointsAt(current, cfg.service) && cfg.beforeTakeover) {
        await cfg.beforeTakeover(gv, current, signal);
        if (signal.aborted) throw new Error("stopped before the takeover finished");
      }
      const want = desired(gv);
      try {
        if (!current) {
          await cfg.client.create(APISERVICES_PATH, want);
          log.info({ apiService: name }, "APIService created");
          return "created";
        }
        const drift = apiServiceDrift(current, want);
        if (drift.length === 0) return "unchanged";
        await cfg.client.update(`${APISERVICES_PATH}/${name}`, mergeAPIService(current, want));
        log.info({ apiService: name, fields: drift }, "APIService put back");
        return "updated";
      } catch (err) {
        // Someone wrote in between (409 Conflict or AlreadyExists): read again and retry.
        if (!isKubeApiError(err, 409)) throw err;
      }
    }
    throw new Error(`APIService ${name}: still conflicting after ${MAX_CONFLICT_RETRIES} attempts`);
  };

  /** One reconcile per APIService at a time; a request arriving meanwhile runs after it. */
  const reconcile = (gv: GroupVersionRef): Promise<ReconcileOutcome> => {
    const name = apiServiceName(gv);
    const prev = queues.get(name) ?? Promise.resolve("unchanged" as ReconcileOutcome);
    const next = prev
      .catch(() => "failed" as const)
      .then(() => once(gv))
      .catch((err: unknown) => {
        log.error({ apiService: name, err: errorMessage(err) }, "APIService not reconciled; retrying later");
        return "failed" as const;
      });
    queues.set(name, next);
    void next.finally(() => {
      if (queues.get(name) === next) queues.delete(name);
    });
    return next;
  };

  const reconcileAll = async () => {
    const out: Record<string, ReconcileOutcome> = {};
    for (const gv of cfg.groupVersions) out[apiServiceName(gv)] = await reconcile(gv);
    return out;
  };

  return {
    reconcile,
    reconcileAll,
    start() {
      if (follower) return;
      if (term.signal.aborted) term = new AbortController();
      follower = follow<APIService>(cfg.client, APISERVICES_PATH, {
        resyncMs: cfg.resyncMs ?? 60_000,
        log,
        onList: async () => {
          await reconcileAll();
        },
        onEvent: (_type, obj) => {
          const gv = byName.get(obj.metadata.name ?? "");
          if (gv) void reconcile(gv);
        },
      });
    },
    stop() {
      term.abort();
      follower?.stop();
      follower = undefined;
    },
  };
}
