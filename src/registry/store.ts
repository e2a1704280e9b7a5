import type { EncodedJson } from "../storage/encoded.js";
import type { NamespaceAdmission, NamespacedWrite } from "../apimachinery/admission.js";
import { decodeContinue, encodeContinue } from "../apimachinery/continue.js";
import { applyJsonPatch, applyMergePatch } from "../apimachinery/patch.js";
import { parseResourceVersion } from "../apimachinery/resourceversion.js";
import {
  alreadyExists,
  badRequest,
  conflict,
  expired,
  internalError,
  invalid,
  OBJECT_MODIFIED,
  resourceVersionTooLarge,
  StatusError,
  type GroupResource,
} from "../apimachinery/status.js";
import { isPlainObject, type KubeObject } from "../apimachinery/types.js";
import type { ResourceDef } from "../resources/types.js";
import {
  isStorageError,
  type ListResult,
  type ObjectKey,
  type ReadConsistency,
  type Storage,
  type StorageResource,
} from "../storage/interface.js";
import { CONTINUE_EXPIRED, storageToStatus } from "./errors.js";
import {
  dedupOwnerReferences,
  finalizerWarnings,
  generateName,
  nowTimestamp,
  prepareForCreate,
  prepareForUpdate,
  SERVED_BY_ANNOTATION,
} from "./metadata.js";
import type { DeleteOptions, ListParams, MutationOptions } from "./options.js";
import { applyConfiguration, changesNothing, requireFieldManager, trackUpdate } from "./managedfields.js";
import { RecentObjects } from "./recent.js";
import {
  DecodeError,
  decodeObject,
  notAnObject,
  patchResultInvalid,
  validateDecoded,
  type DecodeResult,
} from "./validation.js";

export interface ListPage {
  /** The page's objects; empty when the page came as `encoded`. */
  items: KubeObject[];
  /** The page as JSON texts, when the caller asked for JSON only and the backend keeps JSON. */
  encoded?: EncodedJson[];
  resourceVersion: string;
  continue?: string;
  remainingItemCount?: number;
}

export interface WriteResult {
  object: KubeObject;
  warnings: string[];
  /** 201 when the write created the object. */
  created: boolean;
}

export type RegistryWatchEvent =
  | { type: "ADDED" | "MODIFIED" | "DELETED"; object: KubeObject }
  | { type: "BOOKMARK"; resourceVersion: string; initialEventsEnd?: boolean }
  | { type: "ERROR"; error: StatusError };

export type PatchType = "json" | "merge" | "apply";

export interface RegistryOptions {
  maxPageSize: number;
  now?: () => Date;
  /**
   * JSON bytes of recently written or read objects kept as the starting point of the next write
   * (recent.ts); 0 (the default) for a store whose reads cost nothing, as memory.
   */
  recentObjectBytes?: number;
  /** NamespaceLifecycle admission of creates and updates (cluster mode; absent: anywhere goes). */
  admission?: NamespaceAdmission;
}

const CONFLICT_RETRIES = 5;
const GENERATE_NAME_RETRIES = 8;

/**
 * The API semantics of one kind, generic over every kind (k8s.io/apiserver registry/generic/registry
 * store.go): metadata, validation, optimistic concurrency, patches, dry run, finalizers. Per-kind facts
 * come only from the ResourceDef.
 */
export class Registry {
  readonly gr: GroupResource;
  readonly sr: StorageResource;
  private readonly now: () => Date;
  private readonly recent: RecentObjects | undefined;

  constructor(
    readonly def: ResourceDef,
    private readonly storage: Storage,
    private readonly opts: RegistryOptions,
  ) {
    this.gr = { group: def.group, resource: def.plural };
    this.sr = { group: def.group, resource: def.plural, namespaced: def.namespaced };
    this.now = opts.now ?? (() => new Date());
    this.recent = opts.recentObjectBytes ? new RecentObjects(opts.recentObjectBytes) : undefined;
  }

  private static id(key: ObjectKey): string {
    return `${key.namespace}/${key.name}`;
  }

  private key(namespace: string, name: string): ObjectKey {
    return { namespace: this.def.namespaced ? namespace : "", name };
  }

  private fail(err: unknown, name: string): never {
    throw storageToStatus(err, this.gr, name);
  }

  async get(namespace: string, name: string): Promise<KubeObject> {
    try {
      return await this.storage.get(this.sr, this.key(namespace, name));
    } catch (err) {
      this.fail(err, name);
    }
  }

  /**
   * A GET with `resourceVersion=N` asks for a state at least as new as N: a store that has not
   * reached N answers 504, as kube-apiserver does (its etcd read compares the revision it got).
   */
  async requireResourceVersion(resourceVersion: number | undefined): Promise<void> {
    if (!resourceVersion) return;
    const current = await this.currentResourceVersion();
    if (resourceVersion > current) throw resourceVersionTooLarge(resourceVersion, current);
  }

  private async currentResourceVersion(): Promise<number> {
    try {
      return await this.storage.currentResourceVersion();
    } catch (err) {
      this.fail(err, "");
    }
  }

  /** Admission of a write into a namespace, where kube-apiserver runs it (see createDecoded, guaranteedUpdate). */
  private async admit(op: NamespacedWrite, namespace: string, name: string): Promise<void> {
    if (!this.def.namespaced || !namespace || !this.opts.admission) return;
    await this.opts.admission.admit(op, this.gr, name, namespace);
  }

  /** Whether the key holds an object. */
  private async exists(key: ObjectKey): Promise<boolean> {
    try {
      await this.storage.get(this.sr, key);
      return true;
    } catch (err) {
      if (isStorageError(err, "KeyNotFound")) return false;
      this.fail(err, key.name);
    }
  }

  /**
   * The object as JSON text, for an answer that sends it on as is: a backend that stores JSON hands
   * it over without decoding it.
   */
  async getEncoded(namespace: string, name: string): Promise<string | Buffer> {
    const key = this.key(namespace, name);
    try {
      if (!this.storage.getEncoded) return JSON.stringify(await this.storage.get(this.sr, key));
      const json = await this.storage.getEncoded(this.sr, key);
      this.recent?.rememberJson(Registry.id(key), json);
      return json;
    } catch (err) {
      this.fail(err, name);
    }
  }

  /**
   * One page of a list; `limit` is capped at the server's page size (a continue token says there is
   * more). With `encoded`, the backend may answer with the items' JSON instead of the items.
   */
  async list(
    namespace: string | undefined,
    p: ListParams,
    limitOverride?: number,
    encoded = false,
  ): Promise<ListPage> {
    const limit = Math.min(limitOverride ?? p.limit ?? this.opts.maxPageSize, this.opts.maxPageSize);
    let consistency: ReadConsistency = { kind: "latest" };
    let continueFrom: { after: ObjectKey; resourceVersion: number } | undefined;
    if (p.continueToken) {
      if (p.resourceVersion && p.resourceVersion !== "0") {
        throw badRequest("specifying resource version is not allowed when using continue");
      }
      continueFrom = decodeContinue(p.continueToken);
      if (continueFrom.resourceVersion < 0) {
        continueFrom.resourceVersion = await this.currentResourceVersion();
      }
    } else {
      consistency = readConsistency(p);
    }
    let res: ListResult;
    try {
      res = await this.storage.list(this.sr, {
        namespace: this.def.namespaced ? namespace : undefined,
        labelSelector: p.labelSelector,
        fieldSelector: p.fieldSelector,
        limit,
        continueFrom,
        consistency,
        encoded,
      });
    } catch (err) {
      if (isStorageError(err, "TooLargeResourceVersion")) {
        const asked = continueFrom?.resourceVersion ?? parseResourceVersion(p.resourceVersion) ?? 0;
        // etcd's "future revision" error does not say where it is
        throw resourceVersionTooLarge(asked, err.resourceVersion ?? (await this.currentResourceVersion()));
      }
      if (continueFrom && isStorageError(err, "Compacted")) {
        // as etcd3's handleCompactedErrorForPaging: the rest of the list, at the latest state
        throw expired(CONTINUE_EXPIRED, encodeContinue({ after: continueFrom.after, resourceVersion: -1 }));
      }
      this.fail(err, "");
    }
    const page: ListPage = { items: res.items, resourceVersion: String(res.resourceVersion) };
    if (res.encoded) page.encoded = res.encoded;
    if (res.continueAfter) {
      page.continue = encodeContinue({ resourceVersion: res.resourceVersion, after: res.continueAfter });
      if (res.remainingItemCount !== undefined) page.remainingItemCount = res.remainingItemCount;
    }
    return page;
  }

  /**
   * A list without a limit, page by page, so that the server never holds a whole table: the caller
   * streams each page out before asking for the next. Every page reports the first page's version.
   */
  async *listAll(namespace: string | undefined, p: ListParams, encoded = false): AsyncGenerator<ListPage> {
    let params = p;
    for (;;) {
      const page = await this.list(namespace, params, this.opts.maxPageSize, encoded);
      yield page;
      if (!page.continue) return;
      params = {
        ...p,
        continueToken: page.continue,
        resourceVersion: undefined,
        resourceVersionMatch: undefined,
      };
    }
  }

  /** A create or update body, with the repeated keys its reader found (see readMutationBody). */
  private decodeBody(body: unknown, o: MutationOptions): DecodeResult {
    return decodeObject(this.def, body, o.fieldValidation, o.duplicates, o.yamlDuplicates);
  }

  async create(namespace: string, body: unknown, o: MutationOptions): Promise<WriteResult> {
    const { object: obj, warnings } = this.decodeBody(body, o);
    this.placeInNamespace(obj, namespace);
    // the etcd3 store's check: a version that parses as a positive integer (others are ignored)
    const rv = obj.metadata.resourceVersion;
    if (rv && /^\d+$/.test(rv) && BigInt(rv) > 0n && BigInt(rv) < 2n ** 64n) {
      throw internalError("resourceVersion should not be set on objects to be created");
    }
    return this.createDecoded(namespace, obj, o, [...warnings, ...dedupOwnerReferences(obj, false)], true);
  }

  private async createDecoded(
    namespace: string,
    obj: KubeObject,
    o: MutationOptions,
    warnings: string[],
    track: boolean,
  ): Promise<WriteResult> {
    const generate = !obj.metadata.name && !!obj.metadata.generateName;
    // after decoding and the namespace check, before the name is generated (mutating admission);
    // an unnamed object is named by its prefix (admission's extractResourceName)
    await this.admit("create", namespace, obj.metadata.name || obj.metadata.generateName || "Unknown");
    warnings = [...warnings, ...finalizerWarnings(obj)];
    for (let attempt = 0; ; attempt++) {
      const candidate = prepareForCreate(obj, this.now());
      if (generate) candidate.metadata.name = generateName(obj.metadata.generateName ?? "");
      if (track) trackUpdate(this.def, undefined, candidate, o.manager, this.now());
      validateDecoded(this.def, candidate, { isCreate: true });
      if (o.dryRun) {
        // kube-apiserver's dry-run storage reads the key and fails as the write would
        if (!(await this.exists(this.key(namespace, candidate.metadata.name!)))) {
          return { object: candidate, warnings, created: true };
        }
        if (generate && attempt < GENERATE_NAME_RETRIES) continue;
        throw alreadyExists(this.gr, candidate.metadata.name!);
      }
      try {
        const key = this.key(namespace, candidate.metadata.name!);
        const stored = await this.storage.create(this.sr, key, candidate);
        this.recent?.remember(Registry.id(key), stored);
        return { object: stored, warnings, created: true };
      } catch (err) {
        if (generate && isStorageError(err, "KeyExists") && attempt < GENERATE_NAME_RETRIES) continue;
        this.fail(err, candidate.metadata.name!);
      }
    }
  }

  /**
   * Copies a report that lived in the cluster's etcd (CRD migration) as it was: uid, creation time,
   * owners and labels kept, a new resource version, the served-by annotation added.
   */
  async importObject(obj: KubeObject): Promise<"created" | "exists"> {
    const { object } = decodeObject(this.def, structuredClone(obj), "Ignore");
    const meta = object.metadata;
    delete meta.resourceVersion;
    meta.annotations = { ...meta.annotations, [SERVED_BY_ANNOTATION]: "true" };
    meta.generation ??= 1;
    try {
      await this.storage.create(this.sr, this.key(meta.namespace ?? "", meta.name ?? ""), object);
      return "created";
    } catch (err) {
      if (isStorageError(err, "KeyExists")) return "exists";
      this.fail(err, meta.name ?? "");
    }
  }

  async update(namespace: string, name: string, body: unknown, o: MutationOptions): Promise<WriteResult> {
    const { object: obj, warnings } = this.decodeBody(body, o);
    this.placeInNamespace(obj, namespace);
    checkName(obj, name);
    if (!obj.metadata.resourceVersion) {
      // Store.Update: a missing object is NotFound first (no create on update for custom resources);
      // the Invalid then names the resource where the Kind would be (qualifiedKind from the resource)
      await this.get(namespace, name);
      throw invalid(this.def.group, this.def.plural, name, [
        {
          reason: "FieldValueInvalid",
          field: "metadata.resourceVersion",
          message: "Invalid value: 0x0: must be specified for an update",
        },
      ]);
    }
    warnings.push(...dedupOwnerReferences(obj, false));
    let added: string[] = [];
    const object = await this.guaranteedUpdate(namespace, name, o, (current) => {
      added = finalizerWarnings(obj, current);
      // A uid in a PUT body is a precondition (rest.DefaultUpdatedObjectInfo): a mismatch is a 409.
      if (obj.metadata.uid && obj.metadata.uid !== current.metadata.uid) {
        throw conflict(
          this.gr,
          name,
          `Precondition failed: UID in precondition: ${obj.metadata.uid}, UID in object meta: ${current.metadata.uid}`,
        );
      }
      return obj;
    });
    return { object, warnings: [...warnings, ...added], created: false };
  }

  async patch(
    namespace: string,
    name: string,
    type: PatchType,
    patch: unknown,
    o: MutationOptions,
  ): Promise<WriteResult> {
    if (type === "apply") return this.apply(namespace, name, patch, o);
    let warnings: string[] = [];
    const object = await this.guaranteedUpdate(namespace, name, o, (current) => {
      const patchOf = (base: KubeObject) =>
        type === "json" ? applyJsonPatch(base, patch) : applyMergePatch(base, patch);
      const patched = patchOf(structuredClone(current) as KubeObject);
      if (!isPlainObject(patched)) {
        // the decoder cannot read a list (or a scalar) as an object: jsonPatcher's 422 on `patch`
        throw patchResultInvalid(JSON.stringify(patched), new DecodeError(this.def, notAnObject(patched)));
      }
      let res: DecodeResult;
      try {
        res = decodeObject(this.def, patched, o.fieldValidation, o.duplicates);
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
        // the 422 quotes the result as patched; decoding pruned this copy, so patch again
        throw patchResultInvalid(JSON.stringify(patchOf(structuredClone(current) as KubeObject)), err);
      }
      warnings = [
        ...res.warnings,
        ...dedupOwnerReferences(res.object, true),
        ...finalizerWarnings(res.object, current),
      ];
      this.placeInNamespace(res.object, namespace, true);
      checkName(res.object, name);
      return res.object;
    });
    return { object, warnings, created: false };
  }

  /** Server-side apply: creates the object when it is missing (201), else merges with field ownership. */
  private async apply(
    namespace: string,
    name: string,
    patch: unknown,
    o: MutationOptions,
  ): Promise<WriteResult> {
    requireFieldManager(o.fieldManager);
    const { object: applied, warnings } = decodeObject(this.def, patch, o.fieldValidation);
    // structured-merge's Apply: the applier says what it owns by what it sends, never by this list
    if (applied.metadata.managedFields !== undefined) throw badRequest("metadata.managedFields must be nil");
    warnings.push(...applyYamlProblems(o));
    this.placeInNamespace(applied, namespace, true);
    checkName(applied, name);
    for (;;) {
      if (!(await this.exists(this.key(namespace, name)))) {
        const fresh = applyConfiguration(this.def, undefined, applied, o.manager, o.force, this.now());
        delete fresh.metadata.resourceVersion;
        try {
          const deduped = [...warnings, ...dedupOwnerReferences(fresh, true)];
          return await this.createDecoded(namespace, fresh, o, deduped, false);
        } catch (err) {
          // Created meanwhile by someone else: apply onto it instead.
          if (err instanceof StatusError && err.reason === "AlreadyExists") continue;
          throw err;
        }
      }
      let added: string[] = [];
      const object = await this.guaranteedUpdate(
        namespace,
        name,
        o,
        (current) => {
          const merged = applyConfiguration(this.def, current, applied, o.manager, o.force, this.now());
          added = [...dedupOwnerReferences(merged, true), ...finalizerWarnings(merged, current)];
          merged.metadata.resourceVersion =
            applied.metadata.resourceVersion ?? current.metadata.resourceVersion;
          return merged;
        },
        false,
      );
      return { object, warnings: [...warnings, ...added], created: false };
    }
  }

  /**
   * Read, change, compare-and-swap, retry on a lost race (storage GuaranteedUpdate). A resource version
   * in the new object is a precondition: a mismatch is a 409, never retried. The first attempt may
   * start from the recent object instead of reading the store; anything that fails or does nothing on
   * it (a stale one, written since by another replica) is decided again on a fresh read, as
   * kube-apiserver does when it starts from its watch cache.
   */
  private async guaranteedUpdate(
    namespace: string,
    name: string,
    o: MutationOptions,
    tryUpdate: (current: KubeObject) => KubeObject,
    track = true,
  ): Promise<KubeObject> {
    const key = this.key(namespace, name);
    const id = Registry.id(key);
    let first = !o.dryRun;
    let admitted = false;
    for (let attempt = 0; ;) {
      const { current, recent } = await this.startingPoint(namespace, name, first);
      first = false;
      if (!admitted) {
        // once the object is known to exist: a missing one is its own 404 first, as kube-apiserver
        // runs admission inside GuaranteedUpdate
        await this.admit("update", namespace, name);
        admitted = true;
      }
      let prepared: KubeObject;
      try {
        prepared = this.prepareUpdate(name, current, tryUpdate(current), o, track);
      } catch (err) {
        if (!recent) throw err;
        this.recent?.forget(id);
        continue;
      }
      // a new generation already tells a change (prepareForUpdate compared the spec) without a
      // second walk of the whole object
      if (prepared.metadata.generation === current.metadata.generation && changesNothing(prepared, current)) {
        if (!recent) return current;
        this.recent?.forget(id);
        continue;
      }
      const rv = Number(current.metadata.resourceVersion);
      const finished = prepared.metadata.deletionTimestamp && !(prepared.metadata.finalizers ?? []).length;
      if (o.dryRun) return prepared;
      try {
        if (finished) {
          this.recent?.forget(id);
          await this.storage.delete(this.sr, key, rv);
          return prepared;
        }
        const stored = await this.storage.update(this.sr, key, prepared, rv, current);
        this.recent?.remember(id, stored);
        return stored;
      } catch (err) {
        this.recent?.forget(id);
        if (recent && staleWrite(err)) continue;
        // A lost race is retried on the fresh object: a resource version the client sent (PUT body,
        // or one a patch set) is checked again there and still fails with 409.
        if (isStorageError(err, "Conflict") && attempt++ < CONFLICT_RETRIES) continue;
        this.fail(err, name);
      }
    }
  }

  /** What a write starts from: the recent copy on its first try when there is one, else the store's. */
  private async startingPoint(
    namespace: string,
    name: string,
    first: boolean,
  ): Promise<{ current: KubeObject; recent: boolean }> {
    const copy = first ? this.recent?.get(Registry.id(this.key(namespace, name))) : undefined;
    if (copy) return { current: copy, recent: true };
    return { current: await this.get(namespace, name), recent: false };
  }

  /** The object an update will write: preconditions, server-owned metadata, managed fields, validation. */
  private prepareUpdate(
    name: string,
    current: KubeObject,
    next: KubeObject,
    o: MutationOptions,
    track: boolean,
  ): KubeObject {
    const wanted = next.metadata.resourceVersion;
    if (wanted && wanted !== current.metadata.resourceVersion) {
      throw conflict(this.gr, name, OBJECT_MODIFIED);
    }
    if (next.metadata.uid && next.metadata.uid !== current.metadata.uid) {
      throw invalid(this.def.group, this.def.kind, name, [
        {
          reason: "FieldValueInvalid",
          field: "metadata.uid",
          message: `Invalid value: "${next.metadata.uid}": field is immutable`,
        },
      ]);
    }
    const prepared = prepareForUpdate(next, current);
    // prepareForUpdate moves the generation exactly when something outside metadata changed
    const onlyMetadata =
      current.metadata.generation !== undefined &&
      prepared.metadata.generation === current.metadata.generation;
    if (track) trackUpdate(this.def, current, prepared, o.manager, this.now(), onlyMetadata);
    checkFinalizersWhileDeleting(this.def, prepared, current);
    validateDecoded(this.def, prepared, { isCreate: false, old: current });
    return prepared;
  }

  async delete(
    namespace: string,
    name: string,
    o: DeleteOptions,
  ): Promise<{ object: KubeObject; deleted: boolean }> {
    const key = this.key(namespace, name);
    const id = Registry.id(key);
    let first = !o.dryRun;
    for (let attempt = 0; ;) {
      const { current, recent } = await this.startingPoint(namespace, name, first);
      first = false;
      try {
        this.checkPreconditions(current, o);
      } catch (err) {
        if (!recent) throw err;
        this.recent?.forget(id);
        continue;
      }
      const rv = Number(current.metadata.resourceVersion);
      // Orphan and Foreground are carried out by the garbage collector, through these finalizers; a
      // policy replaces the other policies' finalizers (kube-apiserver's shouldUpdateFinalizers).
      const gcFinalizer =
        o.propagationPolicy === "Orphan"
          ? "orphan"
          : o.propagationPolicy === "Foreground"
            ? "foregroundDeletion"
            : "";
      const had = current.metadata.finalizers ?? [];
      let finalizers = [...had];
      if (o.propagationPolicy) {
        finalizers = finalizers.filter(
          (f) => (f !== "orphan" && f !== "foregroundDeletion") || f === gcFinalizer,
        );
      }
      if (gcFinalizer && !finalizers.includes(gcFinalizer)) finalizers.push(gcFinalizer);
      const unchanged = finalizers.length === had.length && finalizers.every((f, i) => f === had[i]);
      try {
        if (finalizers.length > 0) {
          if (current.metadata.deletionTimestamp && unchanged) {
            if (recent) {
              this.recent?.forget(id);
              continue;
            }
            return { object: current, deleted: false };
          }
          const marking = !current.metadata.deletionTimestamp;
          const marked: KubeObject = {
            ...current,
            metadata: {
              ...current.metadata,
              finalizers,
              deletionTimestamp: current.metadata.deletionTimestamp ?? nowTimestamp(this.now()),
              deletionGracePeriodSeconds: current.metadata.deletionGracePeriodSeconds ?? 0,
              // Setting deletionTimestamp is a change of intent: generation moves (markAsDeleting).
              generation: (current.metadata.generation ?? 1) + (marking ? 1 : 0),
            },
          };
          if (o.dryRun) return { object: marked, deleted: false };
          const stored = await this.storage.update(this.sr, key, marked, rv, current);
          this.recent?.remember(id, stored);
          return { object: stored, deleted: false };
        }
        if (o.dryRun) return { object: current, deleted: true };
        this.recent?.forget(id);
        return { object: await this.storage.delete(this.sr, key, rv), deleted: true };
      } catch (err) {
        this.recent?.forget(id);
        if (recent && staleWrite(err)) continue;
        const pinned = o.preconditions?.resourceVersion !== undefined;
        if (isStorageError(err, "Conflict") && !pinned && attempt++ < CONFLICT_RETRIES) continue;
        this.fail(err, name);
      }
    }
  }

  /** rest.BeforeDelete's checks, in its words; it names the Kind where the resource would be. */
  private checkPreconditions(current: KubeObject, o: DeleteOptions): void {
    const pc = o.preconditions;
    const name = current.metadata.name ?? "";
    const gk = { group: this.def.group, resource: this.def.kind };
    if (pc?.uid !== undefined && pc.uid !== current.metadata.uid) {
      throw conflict(
        gk,
        name,
        `the UID in the precondition (${pc.uid}) does not match the UID in record (${current.metadata.uid}). The object might have been deleted and then recreated`,
      );
    }
    if (pc?.resourceVersion !== undefined && pc.resourceVersion !== current.metadata.resourceVersion) {
      throw conflict(
        gk,
        name,
        `the ResourceVersion in the precondition (${pc.resourceVersion}) does not match the ResourceVersion in record (${current.metadata.resourceVersion}). The object might have been modified`,
      );
    }
  }

  /** DELETE on the collection: every matching object, one compare-and-swap each. */
  async deleteCollection(namespace: string | undefined, p: ListParams, o: DeleteOptions): Promise<ListPage> {
    const deleted: KubeObject[] = [];
    let rv = "";
    for await (const page of this.listAll(namespace, { ...p, limit: undefined, continueToken: undefined })) {
      rv ||= page.resourceVersion;
      for (const item of page.items) {
        try {
          const res = await this.delete(item.metadata.namespace ?? "", item.metadata.name ?? "", {
            ...o,
            preconditions: undefined,
          });
          deleted.push(res.object);
        } catch (err) {
          if (err instanceof StatusError && err.code === 404) continue;
          throw err;
        }
      }
    }
    return { items: deleted, resourceVersion: rv };
  }

  /**
   * A watch as the API serves it: synthetic ADDED events for the current state when asked
   * (resourceVersion ""/"0", or sendInitialEvents), then every change after the start point.
   */
  async *watch(
    namespace: string | undefined,
    p: ListParams,
    signal: AbortSignal,
  ): AsyncGenerator<RegistryWatchEvent> {
    const rv = p.resourceVersion ?? "";
    const initial = p.sendInitialEvents ?? (rv === "" || rv === "0");
    let from: number;
    if (initial) {
      const listParams: ListParams = {
        ...p,
        limit: undefined,
        continueToken: undefined,
        resourceVersionMatch: rv && rv !== "0" ? "NotOlderThan" : undefined,
        resourceVersion: rv && rv !== "0" ? rv : undefined,
        sendInitialEvents: undefined,
        watch: false,
      };
      let listRV = "";
      try {
        for await (const page of this.listAll(namespace, listParams)) {
          listRV ||= page.resourceVersion;
          for (const object of page.items) yield { type: "ADDED", object };
          if (signal.aborted) return;
        }
      } catch (err) {
        if (err instanceof StatusError) {
          yield { type: "ERROR", error: err };
          return;
        }
        throw err;
      }
      from = Number(listRV);
      // Always tell the caller where the stream stands; only WatchList clients see this one.
      yield { type: "BOOKMARK", resourceVersion: listRV, initialEventsEnd: p.sendInitialEvents === true };
    } else if (rv === "" || rv === "0") {
      // sendInitialEvents=false without a version: start at the most recent, not at the beginning.
      from = await this.storage.currentResourceVersion();
      yield { type: "BOOKMARK", resourceVersion: String(from) };
    } else {
      from = parseResourceVersion(rv) ?? 0;
      yield { type: "BOOKMARK", resourceVersion: String(from) };
    }
    try {
      const stream = this.storage.watch(
        this.sr,
        {
          namespace: this.def.namespaced ? namespace : undefined,
          labelSelector: p.labelSelector,
          fieldSelector: p.fieldSelector,
          fromResourceVersion: from,
        },
        signal,
      );
      for await (const ev of stream) {
        if (ev.type === "BOOKMARK") yield { type: "BOOKMARK", resourceVersion: String(ev.resourceVersion) };
        else yield { type: ev.type, object: ev.object };
      }
    } catch (err) {
      if (signal.aborted) return;
      if (isStorageError(err, "Compacted")) {
        // the watch cache's words: "(oldest-1)", the oldest version a watch can still start from
        // (storage reports the oldest change it still holds)
        const startable = err.resourceVersion !== undefined ? err.resourceVersion - 1 : from + 1;
        yield { type: "ERROR", error: expired(`too old resource version: ${from} (${startable})`) };
        return;
      }
      // A watcher that fell behind is closed; the client re-watches from its last version.
      if (isStorageError(err, "TooSlow")) return;
      const status = storageToStatus(err, this.gr, "");
      if (status instanceof StatusError) {
        yield { type: "ERROR", error: status };
        return;
      }
      throw err;
    }
  }

  /** Namespace from the path; a different one in the body is a 400, as kube-apiserver answers. */
  private placeInNamespace(obj: KubeObject, namespace: string, patch = false): void {
    if (!this.def.namespaced) {
      delete obj.metadata.namespace;
      return;
    }
    const ns = obj.metadata.namespace;
    if (ns && ns !== namespace) {
      // a patch's result is checked by the patcher's checkName, in its own words
      throw badRequest(
        patch
          ? `the namespace of the object (${ns}) does not match the namespace on the request (${namespace})`
          : "the namespace of the provided object does not match the namespace sent on the request",
      );
    }
    obj.metadata.namespace = namespace;
  }
}

/**
 * What a write started from a stale recent object fails with, and is decided again on a fresh read.
 * Any other error (a timeout, a reset connection) may come after the write took effect: it is
 * answered, never redone.
 */
function staleWrite(err: unknown): boolean {
  return isStorageError(err, "Conflict") || isStorageError(err, "KeyNotFound");
}

function checkName(obj: KubeObject, name: string): void {
  if (obj.metadata.name !== name) {
    throw badRequest(
      `the name of the object (${obj.metadata.name ?? ""}) does not match the name on the URL (${name})`,
    );
  }
}

function checkFinalizersWhileDeleting(def: ResourceDef, next: KubeObject, current: KubeObject): void {
  if (!current.metadata.deletionTimestamp) return;
  const had = new Set(current.metadata.finalizers ?? []);
  const added = (next.metadata.finalizers ?? []).filter((f) => !had.has(f));
  if (added.length > 0) {
    throw invalid(def.group, def.kind, current.metadata.name ?? "", [
      {
        reason: "FieldValueForbidden",
        field: "metadata.finalizers",
        message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{${added.map((f) => `"${f}"`).join(", ")}}`,
      },
    ]);
  }
}

/** resourceVersion + resourceVersionMatch → what the store must read (api-concepts, "resource versions"). */
function readConsistency(p: ListParams): ReadConsistency {
  const rv = parseResourceVersion(p.resourceVersion);
  if (rv === undefined) return { kind: "latest" };
  if (p.resourceVersionMatch === "Exact") return { kind: "exact", resourceVersion: rv };
  if (rv === 0) return { kind: "any" };
  // Legacy: a resourceVersion with a limit and no match means exactly that version.
  if (p.resourceVersionMatch === undefined && p.limit) return { kind: "exact", resourceVersion: rv };
  return { kind: "notOlderThan", resourceVersion: rv };
}

/**
 * Keys an apply body repeats: kube-apiserver's apply decodes the YAML leniently, then decodes it
 * again strictly only to report them, so they are a 400 of their own under Strict (not a "cannot be
 * handled" one) and warnings, one per line, under Warn.
 */
function applyYamlProblems(o: MutationOptions): string[] {
  const lines = o.yamlDuplicates ?? [];
  if (lines.length === 0 || o.fieldValidation === "Ignore") return [];
  if (o.fieldValidation === "Strict") {
    throw badRequest(
      `error strict decoding YAML: error converting YAML to JSON: yaml: unmarshal errors:\n  ${lines.join("\n  ")}`,
    );
  }
  return lines;
}
