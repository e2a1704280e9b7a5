import {
  forbidden,
  internalError,
  notFound,
  qualifiedResource,
  type GroupResource,
} from "../apimachinery/status.js";
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

export type NamespacedWrite = "create" | "update";

export interface NamespaceLifecycle {
  /** Throws the 404 or 403 kube-apiserver's admission answers; resolves when the write may go on. */
  admit(op: NamespacedWrite, gr: GroupResource, name: string, namespace: string): Promise<void>;
  stop(): void;
}

interface Namespace extends KubeObject {
  status?: { phase?: string };
}

const NAMESPACES: GroupResource = { group: "", resource: "namespaces" };
/** How long a create waits for the cache to see a namespace made just before it (missingNamespaceWait). */
const MISSING_NAMESPACE_WAIT_MS = 50;

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

  return {
    async admit(op, gr, name, namespace) {
      let phase = ready ? phases.get(namespace) : undefined;
      if (phase === undefined && ready && op === "create") {
        await sleep(MISSING_NAMESPACE_WAIT_MS);
        phase = phases.get(namespace);
      }
      phase ??= await lookup(namespace);
      if (phase === undefined) throw notFound(NAMESPACES, namespace);
      if (op === "create" && phase === "Terminating") {
        const why = `unable to create new content in namespace ${namespace} because it is being terminated`;
        const subject = name ? `${qualifiedResource(gr)} "${name}"` : qualifiedResource(gr);
        throw forbidden(`${subject} is forbidden: ${why}`, {
          name: name || undefined,
          group: gr.group,
          kind: gr.resource,
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
