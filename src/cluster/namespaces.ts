import {
  forbidden,
  internalError,
  notFound,
  qualifiedResource,
  type GroupResource,
  type StatusDetails,
} from "../apimachinery/status.js";
import type { NamespaceAdmission } from "../apimachinery/admission.js";
import type { KubeObject } from "../apimachinery/types.js";
import { follow } from "./follow.js";
import { isKubeApiError, type KubeClient } from "./kubeclient.js";
import { errorMessage, silentLog, type ClusterLog } from "./log.js";
import { sleep } from "./sleep.js";

/**
 * kube-apiserver's NamespaceLifecycle admission, which every aggregated API server runs: nothing
 * is written into a namespace that does not exist, and nothing is created in one being deleted
 * (the namespace controller is emptying it). Namespaces are followed as an informer would; one the
 * cache does not know is looked up on the kube-apiserver before a write is refused.
 */

export interface NamespaceLifecycle extends NamespaceAdmission {
  stop(): void;
}

interface Namespace extends KubeObject {
  status?: { phase?: string };
}

const NAMESPACES: GroupResource = { group: "", resource: "namespaces" };
/** How long a create waits for the cache to see a namespace made just before it (missingNamespaceWait). */
const MISSING_NAMESPACE_WAIT_MS = 50;
/** How long a write waits for the first list of namespaces before it is refused. */
const READY_WAIT_MS = 10_000;

const phaseOf = (ns: Namespace): string => ns.status?.phase ?? "Active";

export function startNamespaceLifecycle(client: KubeClient, log: ClusterLog = silentLog): NamespaceLifecycle {
  const phases = new Map<string, string>();
  let ready = false;
  const follower = follow<Namespace>(client, "/api/v1/namespaces", {
    onList: (items) => {
      phases.clear();
      for (const ns of items) phases.set(ns.metadata.name ?? "", phaseOf(ns));
      ready = true;
    },
    onEvent: (type, ns) => {
      const name = ns.metadata.name ?? "";
      if (type === "DELETED") phases.delete(name);
      else phases.set(name, phaseOf(ns));
    },
    // namespaces change rarely; a full relist of a large cluster's every minute would not be cheap
    resyncMs: 5 * 60_000,
    log,
  });

  /** The namespace's phase as the kube-apiserver has it now; undefined when there is none. */
  async function lookup(namespace: string): Promise<string | undefined> {
    try {
      return phaseOf(await client.get<Namespace>(`/api/v1/namespaces/${encodeURIComponent(namespace)}`));
    } catch (err) {
      if (isKubeApiError(err, 404)) return undefined;
      throw internalError(errorMessage(err));
    }
  }

  /** WaitForReady: the first list, for up to 10 s. */
  async function waitForReady(): Promise<boolean> {
    for (let waited = 0; !ready && waited < READY_WAIT_MS; waited += 100) await sleep(100);
    return ready;
  }

  const refuse = (gr: GroupResource, name: string, why: string, details: Partial<StatusDetails> = {}) =>
    forbidden(`${qualifiedResource(gr)} "${name}" is forbidden: ${why}`, {
      name,
      group: gr.group,
      kind: gr.resource,
      ...details,
    });

  return {
    async admit(op, gr, name, namespace) {
      if (!(await waitForReady())) throw refuse(gr, name, "not yet ready to handle request");
      let phase = phases.get(namespace);
      if (phase === undefined && op === "create") {
        await sleep(MISSING_NAMESPACE_WAIT_MS);
        phase = phases.get(namespace);
      }
      phase ??= await lookup(namespace);
      if (phase === undefined) throw notFound(NAMESPACES, namespace);
      if (op === "create" && phase === "Terminating") {
        const why = `unable to create new content in namespace ${namespace} because it is being terminated`;
        throw refuse(gr, name, why, {
          causes: [
            {
              reason: "NamespaceTerminating",
              message: `namespace ${namespace} is being terminated`,
              field: "metadata.namespace",
            },
          ],
        });
      }
    },
    stop: () => follower.stop(),
  };
}
