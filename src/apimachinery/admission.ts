import type { GroupResource } from "./status.js";

/** What a write does to its namespace's content, as admission sees it. */
export type NamespacedWrite = "create" | "update";

/**
 * kube-apiserver's NamespaceLifecycle admission, as the registry calls it: throws the Status a
 * write into that namespace gets (404, 403), or resolves when the write may go on.
 */
export interface NamespaceAdmission {
  admit(op: NamespacedWrite, gr: GroupResource, name: string, namespace: string): Promise<void>;
}
