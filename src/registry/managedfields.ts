import {
  covers,
  fieldSetOf,
  fromLeaves,
  getPath,
  hasLeaf,
  leaves,
  leavesOf,
  pathKey,
  removePath,
  subtract,
  type FieldPath,
  type FieldSet,
} from "../apimachinery/fieldset.js";
import { invalid, StatusError } from "../apimachinery/status.js";
import { isPlainObject, type KubeObject } from "../apimachinery/types.js";
import type { ResourceDef } from "../resources/types.js";
import { fieldsLastApplied, KUBECTL_MANAGER, refreshLastApplied } from "./last-applied.js";
import { deepEqual, nowTimestamp, SERVED_BY_ANNOTATION } from "./metadata.js";
import { capUpdateManagers } from "./update-managers-cap.js";

/** One managedFields entry (metav1.ManagedFieldsEntry). */
export interface ManagedFieldsEntry {
  manager: string;
  operation: "Apply" | "Update";
  apiVersion: string;
  time: string;
  fieldsType: "FieldsV1";
  fieldsV1: FieldSet;
}

/** The manager of a request: ?fieldManager, else the user agent's program name, as kube-apiserver derives it. */
export function managerOf(fieldManager: string | undefined, userAgent: string | undefined): string {
  if (fieldManager) return fieldManager;
  const ua = (userAgent ?? "").split("/")[0].trim();
  return ua.slice(0, 128) || "unknown";
}

function entriesOf(obj: KubeObject | undefined): ManagedFieldsEntry[] {
  const raw = obj?.metadata.managedFields;
  if (!Array.isArray(raw)) return [];
  return raw.filter(
    (e): e is ManagedFieldsEntry & Record<string, unknown> =>
      isPlainObject(e) && typeof e.manager === "string" && isPlainObject(e.fieldsV1),
  ) as ManagedFieldsEntry[];
}

/** The server's own annotation belongs to nobody. */
function ownable(obj: KubeObject, def: ResourceDef): FieldSet {
  const set = fieldSetOf(obj, def.schema);
  const ann = set["f:metadata"]?.["f:annotations"];
  if (ann) {
    delete ann[`f:${SERVED_BY_ANNOTATION}`];
    if (Object.keys(ann).length === 0) delete set["f:metadata"]!["f:annotations"];
    if (Object.keys(set["f:metadata"]!).length === 0) delete set["f:metadata"];
  }
  return set;
}

const secondsOf = (e: ManagedFieldsEntry): number => (e.time ? Math.floor(Date.parse(e.time) / 1000) : 0);

/** sortEncodedManagedFields' order: operation (Apply first), time in seconds, manager, apiVersion. */
function byEncodedOrder(a: ManagedFieldsEntry, b: ManagedFieldsEntry): number {
  const cmp = (x: string | number, y: string | number) => (x < y ? -1 : x > y ? 1 : 0);
  return (
    cmp(a.operation, b.operation) ||
    cmp(secondsOf(a), secondsOf(b)) ||
    cmp(a.manager, b.manager) ||
    cmp(a.apiVersion, b.apiVersion)
  );
}

/** Entries that own something: the updater drops the others before anything else looks at them. */
function owning(entries: ManagedFieldsEntry[]): ManagedFieldsEntry[] {
  return entries.filter((e) => Object.keys(e.fieldsV1).length > 0);
}

/** The list as stored: entries that own something, in the order kube-apiserver encodes them. */
function finish(entries: ManagedFieldsEntry[]): ManagedFieldsEntry[] {
  return owning(entries).sort(byEncodedOrder);
}

/** RFC 3339 in whole seconds, UTC: how metav1.Time is written. */
const SECONDS_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

/**
 * A request's own list, read as DecodeManagedFields reads it: every entry must name an operation
 * (Apply or Update), an apiVersion and the FieldsV1 type, with a parsable time if any; an entry
 * without fields owns nothing. Undefined when any entry is not so (the stored list is used then).
 */
function decodeEntries(raw: unknown[]): ManagedFieldsEntry[] | undefined {
  const out: ManagedFieldsEntry[] = [];
  for (const e of raw) {
    if (!isPlainObject(e) || typeof e.manager !== "string") return undefined;
    if (e.operation !== "Apply" && e.operation !== "Update") return undefined;
    if (typeof e.apiVersion !== "string" || e.apiVersion === "" || e.fieldsType !== "FieldsV1")
      return undefined;
    if (e.fieldsV1 !== undefined && !isFieldSet(e.fieldsV1)) return undefined;
    const entry: ManagedFieldsEntry = {
      manager: e.manager,
      operation: e.operation,
      apiVersion: e.apiVersion,
      time: "",
      fieldsType: "FieldsV1",
      fieldsV1: (e.fieldsV1 ?? {}) as FieldSet,
    };
    if (e.time === undefined || e.time === null) delete (entry as Partial<ManagedFieldsEntry>).time;
    else {
      if (typeof e.time !== "string") return undefined;
      // a time as this server writes it (every list read back) is kept without parsing it
      if (SECONDS_TIME.test(e.time)) entry.time = e.time;
      else {
        const ms = Date.parse(e.time);
        if (Number.isNaN(ms)) return undefined;
        entry.time = new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z"); // metav1.Time keeps seconds
      }
    }
    out.push(entry);
  }
  return out;
}

/**
 * How structured-merge-diff reads one key of a FieldsV1 set: a valid path element, one of a kind it
 * does not know (ignored, as "a future version maybe knows what they are"), or an error.
 */
function pathElement(key: string): "ok" | "ignored" | "bad" {
  if (key.length < 2) return "bad";
  if (key[1] !== ":") return "ignored";
  const rest = key.slice(2);
  try {
    switch (key[0]) {
      case "f":
        return "ok";
      case "k":
        return isPlainObject(JSON.parse(rest)) ? "ok" : "bad";
      case "v":
        JSON.parse(rest);
        return "ok";
      case "i":
        return /^[+-]?\d+$/.test(rest) ? "ok" : "bad";
      default:
        return "ignored";
    }
  } catch {
    return "bad";
  }
}

/** Whether a value reads as a FieldsV1 set: objects all the way down, keys that are path elements. */
function isFieldSet(v: unknown): boolean {
  if (!isPlainObject(v)) return false;
  for (const [k, child] of Object.entries(v)) {
    // "." marks the set's owner as a member; what it holds is not read
    if (k === ".") continue;
    const kind = pathElement(k);
    if (kind === "bad" || (kind === "ok" && !isFieldSet(child))) return false;
  }
  return true;
}

/** A leaf's identity for set lookups (field names cannot hold a newline). */
const leafId = (p: FieldPath): string => p.join("\n");

/** The leaves of ownable(obj), computed without building its set. */
function ownedLeaves(obj: KubeObject, def: ResourceDef): FieldPath[] {
  return leavesOf(obj, def.schema).filter(
    (p) =>
      !(p.length === 3 && p[0] === "metadata" && p[1] === "annotations" && p[2] === SERVED_BY_ANNOTATION) &&
      // an annotations map that is empty without the server's own entry is nobody's
      !(p.length === 2 && p[0] === "metadata" && p[1] === "annotations"),
  );
}

/** The top-level fields a generation does not follow (prepareForUpdate's specChanged skips them). */
const OUTSIDE_SPEC: ReadonlySet<string> = new Set(["metadata", "apiVersion", "kind"]);

/** Who owns an untracked object's fields when it is first applied to (kube-apiserver's name). */
const BEFORE_FIRST_APPLY = "before-first-apply";

/** A request's managedFields that ask to clear them: an empty list, or one empty entry. */
function isReset(raw: unknown): boolean {
  if (!Array.isArray(raw)) return false;
  if (raw.length === 0) return true;
  return raw.length === 1 && isPlainObject(raw[0]) && Object.keys(raw[0]).length === 0;
}

/**
 * The managed fields a write starts from (the field manager's decodeManagedFields): the ones the
 * request sets, when it sets a usable list (clients may edit them), none when it asks for a reset,
 * else the stored object's, so that a client that does not know the field cannot drop it. `stored`
 * is the list as it came, kept as it is when the write changes no field.
 */
function baseEntries(
  prev: KubeObject | undefined,
  next: KubeObject,
): { entries: ManagedFieldsEntry[]; stored: unknown } {
  const requested = next.metadata.managedFields;
  if (isReset(requested)) return { entries: [], stored: undefined };
  const sent = Array.isArray(requested) ? decodeEntries(requested) : undefined;
  if (sent !== undefined && sent.length > 0) {
    const stored = finish(sent);
    return { entries: stored, stored: stored.length > 0 ? stored : undefined };
  }
  return { entries: entriesOf(prev), stored: prev?.metadata.managedFields };
}

/**
 * After a create, update or patch by `manager`: it owns every field it changed, and the fields it
 * changed leave every other manager. Nothing changes when no field did.
 */
export function trackUpdate(
  def: ResourceDef,
  prev: KubeObject | undefined,
  next: KubeObject,
  manager: string,
  now: Date,
  /**
   * The caller knows that nothing outside metadata, apiVersion and kind changed (the registry: the
   * generation did not move), so those leaves are not compared again: on a report that is a walk of
   * every result.
   */
  onlyMetadataChanged = false,
): void {
  const base = baseEntries(prev, next);
  const entries = base.entries;
  if (prev && entries.length === 0) {
    // skipNonAppliedManager: an object whose managed fields were reset is not tracked again by
    // updates, only by its next apply
    delete next.metadata.managedFields;
    return;
  }
  const nextLeaves = ownedLeaves(next, def);
  let changed: FieldPath[];
  let removed: FieldPath[] = [];
  if (!prev) {
    changed = nextLeaves;
  } else {
    const compared = onlyMetadataChanged ? nextLeaves.filter((p) => OUTSIDE_SPEC.has(p[0])) : nextLeaves;
    changed = compared.filter((p) => !deepEqual(getPath(next, p), getPath(prev, p)));
    const present = new Set(nextLeaves.map(leafId));
    removed = ownedLeaves(prev, def).filter((p) => !present.has(leafId(p)));
  }
  if (changed.length === 0 && removed.length === 0) {
    // a list sent with more update entries than kube-apiserver keeps is capped all the same
    const capped = capUpdateManagers(owning(entries));
    if (capped.length !== entries.length)
      next.metadata.managedFields = finish(capped) as unknown as Record<string, unknown>[];
    else if (base.stored === undefined) delete next.metadata.managedFields;
    else next.metadata.managedFields = base.stored as Record<string, unknown>[];
    return;
  }
  const touched = [...changed, ...removed];
  const mine = entries.find((e) => e.manager === manager && e.operation === "Update");
  // A manager that changes again the fields it already owns (a controller rewriting its report)
  // keeps its set as it is.
  const same =
    mine !== undefined &&
    changed.every((p) => hasLeaf(mine.fieldsV1, p)) &&
    !removed.some((p) => hasLeaf(mine.fieldsV1, p));
  const owned = same
    ? mine.fieldsV1
    : fromLeaves([...(mine ? leaves(subtract(mine.fieldsV1, touched)) : []), ...changed]);
  const entry: ManagedFieldsEntry = {
    manager,
    operation: "Update",
    apiVersion: def.groupVersion,
    time: nowTimestamp(now),
    fieldsType: "FieldsV1",
    fieldsV1: owned,
  };
  const rest = entries
    .filter((e) => e !== mine)
    .map((e) =>
      touched.some((p) => hasLeaf(e.fieldsV1, p)) ? { ...e, fieldsV1: subtract(e.fieldsV1, touched) } : e,
    );
  const list = finish(capUpdateManagers(owning([...rest, entry])));
  next.metadata.managedFields = list as unknown as Record<string, unknown>[];
}

function mergeApplied(live: Record<string, unknown>, applied: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(applied)) {
    const cur = live[k];
    if (isPlainObject(v) && isPlainObject(cur)) mergeApplied(cur, v);
    else live[k] = structuredClone(v);
  }
}

/**
 * Server-side apply (sigs.k8s.io/structured-merge-diff, simplified to what these schemas hold: lists
 * and atomic maps are owned whole). The applier's fields are merged in; fields it applied before and
 * no longer applies are removed unless someone else owns them; a field another manager owns with a
 * different value is a conflict unless `force` takes it over.
 */
export function applyConfiguration(
  def: ResourceDef,
  current: KubeObject | undefined,
  applied: KubeObject,
  manager: string,
  force: boolean,
  now: Date,
): KubeObject {
  const entries = entriesOf(current).map((e) => ({ ...e }));
  if (current && entries.length === 0) {
    // skipNonAppliedManager: the fields of an untracked object are someone's before the first apply
    entries.push({
      manager: BEFORE_FIRST_APPLY,
      operation: "Update",
      apiVersion: def.groupVersion,
      time: nowTimestamp(now),
      fieldsType: "FieldsV1",
      fieldsV1: ownable(current, def),
    });
  }
  const appliedSet = ownable(applied, def);
  const appliedLeaves = leaves(appliedSet);
  const mine = entries.find((e) => e.manager === manager && e.operation === "Apply");
  const others = entries.filter((e) => e !== mine);

  const conflicts: { path: FieldPath; manager: string; entry: ManagedFieldsEntry }[] = [];
  if (current) {
    for (const p of appliedLeaves) {
      if (deepEqual(getPath(applied, p), getPath(current, p))) continue;
      for (const e of others)
        if (covers(e.fieldsV1, p)) conflicts.push({ path: p, manager: e.manager, entry: e });
    }
  }
  if (conflicts.length > 0 && !force) {
    // kubectl moving an object from client-side apply: what it last applied is its own to take
    const allowed = manager === KUBECTL_MANAGER && current ? fieldsLastApplied(def, current) : undefined;
    const blocking = allowed ? conflicts.filter((c) => !allowed.has(pathKey(c.path))) : conflicts;
    if (blocking.length > 0) throw conflictError(def, applied.metadata.name ?? "", blocking);
  }
  for (const c of conflicts) c.entry.fieldsV1 = subtract(c.entry.fieldsV1, [c.path]);

  const result = (current ? structuredClone(current) : { metadata: {} }) as KubeObject;
  if (mine) {
    const still = new Set(appliedLeaves.map(pathKey));
    for (const p of leaves(mine.fieldsV1)) {
      if (still.has(pathKey(p))) continue;
      if (others.some((e) => covers(e.fieldsV1, p))) continue;
      removePath(result, p);
    }
  }
  const { metadata: appliedMeta, ...appliedRest } = applied;
  mergeApplied(result, appliedRest);
  for (const k of ["labels", "annotations", "finalizers", "ownerReferences"] as const) {
    const v = appliedMeta[k];
    if (v === undefined) continue;
    if (isPlainObject(v) && isPlainObject(result.metadata[k]))
      mergeApplied(result.metadata[k] as Record<string, unknown>, v);
    else result.metadata[k] = structuredClone(v) as never;
  }
  if (!current) Object.assign(result.metadata, appliedMeta);
  const entry: ManagedFieldsEntry = {
    manager,
    operation: "Apply",
    apiVersion: def.groupVersion,
    time: nowTimestamp(now),
    fieldsType: "FieldsV1",
    fieldsV1: appliedSet,
  };
  result.metadata.managedFields = finish([...others, entry]) as unknown as Record<string, unknown>[];
  if (manager === KUBECTL_MANAGER) refreshLastApplied(result, applied);
  return result;
}

function conflictError(
  def: ResourceDef,
  name: string,
  conflicts: { path: FieldPath; manager: string }[],
): StatusError {
  const lines = conflicts.map(
    (c) => `conflict with "${c.manager}" using ${def.groupVersion}: ${pathKey(c.path)}`,
  );
  const n = conflicts.length;
  const message =
    n === 1
      ? `Apply failed with 1 conflict: ${lines[0]}`
      : `Apply failed with ${n} conflicts: ${lines.join("\n")}`;
  return new StatusError(409, "Conflict", message, {
    name,
    group: def.group,
    kind: def.plural,
    causes: conflicts.map((c) => ({
      reason: "FieldManagerConflict",
      message: `conflict with "${c.manager}" using ${def.groupVersion}`,
      field: pathKey(c.path),
    })),
  });
}

export function requireFieldManager(manager: string | undefined): void {
  if (!manager) {
    throw invalid("meta.k8s.io", "PatchOptions", "", [
      {
        reason: "FieldValueRequired",
        field: "fieldManager",
        message: "Required value: is required for apply patch",
      },
    ]);
  }
}

/** Managed fields compared without their times. */
function sameButTimes(a: unknown, b: unknown): boolean {
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  const untimed = (e: unknown) => (isPlainObject(e) ? { ...e, time: undefined } : e);
  return a.every((e, i) => deepEqual(untimed(e), untimed(b[i])));
}

/**
 * Whether `next` would store nothing new over `prev`: equal, or different only in the times of
 * the same managed fields (kube-apiserver's IgnoreManagedFieldsTimestampsTransformer: an apply
 * that changes nothing is not a write, however often it is repeated).
 */
export function changesNothing(next: KubeObject, prev: KubeObject): boolean {
  if (deepEqual(next, prev)) return true;
  const nextFields = next.metadata.managedFields;
  const prevFields = prev.metadata.managedFields;
  if (!sameButTimes(nextFields, prevFields)) return false;
  return deepEqual({ ...next, metadata: { ...next.metadata, managedFields: prevFields } }, prev);
}
