import { randomBytes, randomUUID } from "node:crypto";
import type { KubeObject, ObjectMeta } from "../apimachinery/types.js";
import { goQuote } from "../apimachinery/go-format.js";

/** Every report this server stores says so, so users and Kyverno can tell where it lives. */
export const SERVED_BY_ANNOTATION = "reports.kyverno.io/served-by-reports-server";

let lastSecond = NaN;
let lastStamp = "";

/** RFC 3339 with second precision, as metav1.Time serializes. */
export function nowTimestamp(now = new Date()): string {
  const second = Math.floor(now.getTime() / 1000);
  // Every write stamps the time, most of them within the same second as the one before.
  if (second !== lastSecond) {
    lastSecond = second;
    lastStamp = now.toISOString().replace(/\.\d{3}Z$/, "Z");
  }
  return lastStamp;
}

// k8s.io/apiserver pkg/storage/names: 5 characters from an alphabet without vowels or look-alikes.
const ALPHABET = "bcdfghjklmnpqrstvwxz2456789";
const MAX_GENERATED_NAME_LENGTH = 63 - 5;

export function generateName(base: string): string {
  const prefix = base.length > MAX_GENERATED_NAME_LENGTH ? base.slice(0, MAX_GENERATED_NAME_LENGTH) : base;
  const bytes = randomBytes(5);
  let s = "";
  for (const b of bytes) s += ALPHABET[b % ALPHABET.length];
  return prefix + s;
}

/** System fields a client may not set on create (rest.BeforeCreate + FillObjectMetaSystemFields). */
export function prepareForCreate(obj: KubeObject, now: Date): KubeObject {
  const meta: ObjectMeta = { ...obj.metadata };
  meta.uid = randomUUID();
  meta.creationTimestamp = nowTimestamp(now);
  meta.generation = 1;
  delete meta.resourceVersion;
  delete meta.deletionTimestamp;
  delete meta.deletionGracePeriodSeconds;
  delete meta.selfLink;
  meta.annotations = { ...meta.annotations, [SERVED_BY_ANNOTATION]: "true" };
  return { ...obj, metadata: meta };
}

/** Keeps what an update may not change, and bumps generation only for changes outside metadata. */
export function prepareForUpdate(next: KubeObject, old: KubeObject): KubeObject {
  const meta: ObjectMeta = { ...next.metadata };
  const o = old.metadata;
  meta.uid = o.uid;
  meta.creationTimestamp = o.creationTimestamp;
  meta.resourceVersion = o.resourceVersion;
  // rest.BeforeUpdate: an update never removes or changes a deletion timestamp or grace period; one
  // the object does not have is kept for validation to refuse (field is immutable)
  if (o.deletionTimestamp !== undefined) meta.deletionTimestamp = o.deletionTimestamp;
  if (o.deletionGracePeriodSeconds !== undefined && meta.deletionGracePeriodSeconds === undefined)
    meta.deletionGracePeriodSeconds = o.deletionGracePeriodSeconds;
  delete meta.selfLink;
  meta.annotations = { ...meta.annotations, [SERVED_BY_ANNOTATION]: "true" };
  const out = { ...next, metadata: meta };
  meta.generation = (o.generation ?? 1) + (specChanged(out, old) ? 1 : 0);
  return out;
}

function specChanged(a: KubeObject, b: KubeObject): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    if (k === "metadata" || k === "apiVersion" || k === "kind") continue;
    if (!deepEqual(a[k], b[k])) return true;
  }
  return false;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  const ob = b as Record<string, unknown>;
  const oa = a as Record<string, unknown>;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(ob, k) || !deepEqual(oa[k], ob[k])) return false;
  }
  return true;
}

/** Finalizers Kubernetes itself defines, which need no domain. */
const STANDARD_FINALIZERS = new Set(["kubernetes", "orphan", "foregroundDeletion"]);

/**
 * The warnings a custom resource's create or update carries for finalizers it adds without a
 * domain and path (apiextensions' generateWarningsFromObj, in 1.33's words).
 */
export function finalizerWarnings(next: KubeObject, prev?: KubeObject): string[] {
  const before = new Set(prev?.metadata.finalizers ?? []);
  const added = [...new Set(next.metadata.finalizers ?? [])].filter((f) => !before.has(f)).sort();
  return added
    .filter((f) => !f.includes("/") && !STANDARD_FINALIZERS.has(f))
    .map(
      (f) =>
        `metadata.finalizers: ${goQuote(f)}: prefer a domain-qualified finalizer name including a path (/) to avoid accidental conflicts with other finalizer writers`,
    );
}

/** rest.DuplicateOwnerReferencesWarningFormat, and its form for a patch (deduplicated after admission). */
const DUPLICATE_OWNERS =
  ".metadata.ownerReferences contains duplicate entries; API server dedups owner references in 1.20+, and may reject such requests as early as 1.24; please fix your requests; duplicate UID(s) observed: ";
const DUPLICATE_OWNERS_AFTER_ADMISSION =
  ".metadata.ownerReferences contains duplicate entries after mutating admission happens; API server dedups owner references in 1.20+, and may reject such requests as early as 1.24; please fix your requests; duplicate UID(s) observed: ";

/**
 * dedupOwnerReferencesAndAddWarning: an owner reference equal in every field to an earlier one is
 * dropped (in place), and the warning naming their uids is returned. Creates and updates use the
 * first wording; patches, which kube-apiserver deduplicates only after admission, the second.
 */
export function dedupOwnerReferences(obj: KubeObject, patch: boolean): string[] {
  const refs = obj.metadata.ownerReferences;
  if (!Array.isArray(refs) || refs.length < 2) return [];
  const kept: Record<string, unknown>[] = [];
  const duplicates: string[] = [];
  const seen = new Set<unknown>();
  for (const ref of refs) {
    if (seen.has(ref.uid) && kept.some((k) => deepEqual(k, ref))) duplicates.push(String(ref.uid ?? ""));
    else {
      seen.add(ref.uid);
      kept.push(ref);
    }
  }
  if (duplicates.length === 0) return [];
  obj.metadata.ownerReferences = kept;
  return [(patch ? DUPLICATE_OWNERS_AFTER_ADMISSION : DUPLICATE_OWNERS) + duplicates.join(", ")];
}
