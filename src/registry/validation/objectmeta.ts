/**
 * `metadata` of a custom resource is ObjectMeta, whatever the CRD schema says: unknown fields inside it
 * are reported and dropped like any other (apiextensions-apiserver `schema/objectmeta`), and its values
 * are validated by `ValidateObjectMetaAccessor` (k8s.io/apimachinery/pkg/api/validation/objectmeta.go).
 */
import { isPlainObject } from "../../apimachinery/types.js";
import type { ObjectMeta } from "../../apimachinery/types.js";
import type { ResourceDef } from "../../resources/types.js";
import { goQuote } from "../../apimachinery/go-format.js";
import { SERVED_BY_ANNOTATION } from "../metadata.js";
import {
  type FieldError,
  forbidden,
  GoSyntax,
  invalidValue,
  notSupported,
  required,
  tooLong,
} from "./field-errors.js";
import { isDNS1123Label, isQualifiedName, isValidLabelValue, nameIsDNSSubdomain } from "./names.js";

type FieldKind =
  "string" | "time" | "int" | "bool" | "stringMap" | "stringList" | "object" | "ownerRefs" | "managedFields";

const OBJECT_META: Record<string, FieldKind> = {
  name: "string",
  generateName: "string",
  namespace: "string",
  selfLink: "string",
  uid: "string",
  resourceVersion: "string",
  generation: "int",
  creationTimestamp: "time",
  deletionTimestamp: "time",
  deletionGracePeriodSeconds: "int",
  labels: "stringMap",
  annotations: "stringMap",
  ownerReferences: "ownerRefs",
  finalizers: "stringList",
  managedFields: "managedFields",
};

const OWNER_REFERENCE: Record<string, FieldKind> = {
  apiVersion: "string",
  kind: "string",
  name: "string",
  uid: "string",
  controller: "bool",
  blockOwnerDeletion: "bool",
};

const MANAGED_FIELDS_ENTRY: Record<string, FieldKind> = {
  manager: "string",
  operation: "string",
  apiVersion: "string",
  time: "time",
  fieldsType: "string",
  fieldsV1: "object",
  subresource: "string",
};

/** A metadata value of the wrong JSON type: the real decoder fails with Go's unmarshal message. */
export class MetadataTypeError extends Error {}

const GO_TYPES: Record<FieldKind, string> = {
  string: "string",
  time: "string",
  int: "int64",
  bool: "bool",
  stringMap: "map[string]string",
  stringList: "[]string",
  object: "v1.FieldsV1",
  ownerRefs: "[]v1.OwnerReference",
  managedFields: "[]v1.ManagedFieldsEntry",
};

function jsonTypeName(v: unknown): string {
  if (Array.isArray(v)) return "array";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "object") return "object";
  return typeof v;
}

function typeError(goStruct: string, path: string, kind: FieldKind, v: unknown): MetadataTypeError {
  return new MetadataTypeError(
    `json: cannot unmarshal ${jsonTypeName(v)} into Go struct field ${goStruct}.${path} of type ${GO_TYPES[kind]}`,
  );
}

/**
 * Drops unknown fields (and nulls, which mean "absent") from `metadata` in place and returns the paths
 * of the unknown ones. Throws MetadataTypeError when a known field has the wrong type.
 */
export function coerceObjectMeta(meta: Record<string, unknown>): string[] {
  return coerceStruct(meta, OBJECT_META, "metadata", "ObjectMeta");
}

function coerceStruct(
  obj: Record<string, unknown>,
  fields: Record<string, FieldKind>,
  path: string,
  goStruct: string,
): string[] {
  const unknown: string[] = [];
  for (const k of Object.keys(obj)) {
    const kind = Object.hasOwn(fields, k) ? fields[k] : undefined;
    const p = `${path}.${k}`;
    if (!kind) {
      unknown.push(p);
      delete obj[k];
      continue;
    }
    const v = obj[k];
    if (v === null) {
      delete obj[k];
      continue;
    }
    unknown.push(...coerceValue(obj, k, v, kind, p, goStruct));
  }
  return unknown;
}

function coerceValue(
  obj: Record<string, unknown>,
  k: string,
  v: unknown,
  kind: FieldKind,
  p: string,
  goStruct: string,
): string[] {
  const fail = (): never => {
    throw typeError(goStruct, p, kind, v);
  };
  switch (kind) {
    case "string":
      if (typeof v !== "string") fail();
      return [];
    case "time":
      if (typeof v !== "string") fail();
      // metav1.Time reads RFC 3339 only
      if (!isRfc3339(v as string)) {
        const q = goQuote(v as string);
        throw new MetadataTypeError(
          `parsing time ${q} as "2006-01-02T15:04:05Z07:00": cannot parse ${q} as "2006"`,
        );
      }
      return [];
    case "int":
      if (typeof v !== "number" || !Number.isSafeInteger(v)) fail();
      return [];
    case "bool":
      if (typeof v !== "boolean") fail();
      return [];
    case "object":
      if (!isPlainObject(v)) fail();
      return [];
    case "stringMap":
      if (!isPlainObject(v)) fail();
      for (const [mk, mv] of Object.entries(v as Record<string, unknown>)) {
        if (mv === null) (v as Record<string, unknown>)[mk] = "";
        else if (typeof mv !== "string") throw typeError(goStruct, p, "string", mv);
      }
      return [];
    case "stringList":
      if (!Array.isArray(v) || v.some((s) => typeof s !== "string")) fail();
      return [];
    case "ownerRefs":
    case "managedFields": {
      if (!Array.isArray(v)) fail();
      const struct = kind === "ownerRefs" ? OWNER_REFERENCE : MANAGED_FIELDS_ENTRY;
      const name = kind === "ownerRefs" ? "OwnerReference" : "ManagedFieldsEntry";
      const out: string[] = [];
      (v as unknown[]).forEach((item, i) => {
        if (!isPlainObject(item)) throw typeError(goStruct, p, kind, v);
        out.push(...coerceStruct(item, struct, `${p}[${i}]`, name));
      });
      obj[k] = v;
      return out;
    }
  }
}

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

/** time.Parse(time.RFC3339, s) succeeds: the shape, and a real date and time. */
function isRfc3339(s: string): boolean {
  if (!RFC3339.test(s)) return false;
  const [y, mo, d, h, mi, sec] = s.match(/\d+/g)!.map(Number);
  const days = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  return mo >= 1 && mo <= 12 && d >= 1 && d <= days && h < 24 && mi < 60 && sec < 60;
}

export interface MetadataOptions {
  isCreate: boolean;
  /** The stored object's metadata, for an update: immutable fields and the resource version are checked. */
  old?: ObjectMeta;
}

const TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024;
const FIELD_IMMUTABLE = "field is immutable";

/** The field errors `ValidateObjectMetaAccessor` (or, with `old`, `…AccessorUpdate`) reports, in its order. */
export function objectMetaErrors(def: ResourceDef, meta: ObjectMeta, opts: MetadataOptions): FieldError[] {
  if (opts.old) return [...updateErrors(meta, opts.old), ...contentErrors(meta, false)];
  const errs: FieldError[] = [];
  const name = meta.name ?? "";
  const generateName = meta.generateName ?? "";
  if (generateName) {
    for (const m of nameIsDNSSubdomain(generateName, true)) {
      errs.push(invalidValue("metadata.generateName", generateName, m));
    }
  }
  if (!name) errs.push(required("metadata.name", "name or generateName is required"));
  else for (const m of nameIsDNSSubdomain(name, false)) errs.push(invalidValue("metadata.name", name, m));

  const ns = meta.namespace ?? "";
  if (def.namespaced) {
    if (!ns) errs.push(required("metadata.namespace"));
    else for (const m of isDNS1123Label(ns)) errs.push(invalidValue("metadata.namespace", ns, m));
  } else if (ns) {
    errs.push(forbidden("metadata.namespace", "not allowed on this type"));
  }
  if (typeof meta.generation === "number" && meta.generation < 0) {
    errs.push(invalidValue("metadata.generation", meta.generation, "must be greater than or equal to 0"));
  }
  return [...errs, ...contentErrors(meta, true)];
}

function updateErrors(meta: ObjectMeta, old: ObjectMeta): FieldError[] {
  const errs: FieldError[] = [];
  if (old.deletionTimestamp) {
    const before = new Set(old.finalizers ?? []);
    const added = [...new Set((meta.finalizers ?? []).filter((f) => !before.has(f)))].sort();
    if (added.length) {
      errs.push(
        forbidden(
          "metadata.finalizers",
          `no new finalizers can be added if the object is being deleted, found new finalizers []string{${added.map((f) => JSON.stringify(f)).join(", ")}}`,
        ),
      );
    }
  }
  if (!meta.resourceVersion) {
    errs.push(
      invalidValue("metadata.resourceVersion", meta.resourceVersion ?? "", "must be specified for an update"),
    );
  }
  if ((meta.generation ?? 0) < (old.generation ?? 0)) {
    errs.push(invalidValue("metadata.generation", meta.generation ?? 0, "must not be decremented"));
  }
  const immutable = [
    "name",
    "namespace",
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
  ];
  for (const f of immutable) {
    const now = meta[f] ?? null;
    if (now !== (old[f] ?? null)) errs.push(invalidValue(`metadata.${f}`, now, FIELD_IMMUTABLE));
  }
  return errs;
}

/** Labels, annotations, owner references, finalizers and managed fields: checked on create and update. */
function contentErrors(meta: ObjectMeta, withFinalizers: boolean): FieldError[] {
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(meta.labels ?? {})) {
    for (const m of isQualifiedName(k)) errs.push(invalidValue("metadata.labels", k, m));
    for (const m of isValidLabelValue(v)) errs.push(invalidValue("metadata.labels", v, m));
  }
  let annotationBytes = 0;
  for (const [k, v] of Object.entries(meta.annotations ?? {})) {
    for (const m of isQualifiedName(k.toLowerCase())) errs.push(invalidValue("metadata.annotations", k, m));
    // the server's own annotation does not count against what the client may send
    if (k !== SERVED_BY_ANNOTATION) annotationBytes += Buffer.byteLength(k) + Buffer.byteLength(v);
  }
  if (annotationBytes > TOTAL_ANNOTATION_SIZE_LIMIT) {
    errs.push(tooLong("metadata.annotations", TOTAL_ANNOTATION_SIZE_LIMIT));
  }
  errs.push(...ownerReferenceErrors(meta.ownerReferences ?? []));
  if (withFinalizers) errs.push(...finalizerErrors(meta.finalizers ?? []));
  errs.push(...managedFieldsErrors(meta.managedFields ?? []));
  return errs;
}

function managedFieldsErrors(entries: Record<string, unknown>[]): FieldError[] {
  const errs: FieldError[] = [];
  entries.forEach((e, i) => {
    const path = `metadata.managedFields[${i}]`;
    const op = String(e.operation ?? "");
    if (op !== "Apply" && op !== "Update")
      errs.push(notSupported(`${path}.operation`, op, ["Apply", "Update"]));
    const ft = String(e.fieldsType ?? "");
    if (ft !== "FieldsV1") errs.push(notSupported(`${path}.fieldsType`, ft, ["FieldsV1"]));
    if (String(e.manager ?? "").length > 128) errs.push(tooLong(`${path}.manager`, 128));
  });
  return errs;
}

/** schema.ParseGroupVersion, as FromAPIVersionAndKind uses it: more than one slash parses to nothing. */
function groupVersionOf(apiVersion: string): { group: string; version: string } {
  const parts = apiVersion.split("/");
  if (apiVersion === "" || parts.length > 2) return { group: "", version: "" };
  return parts.length === 1 ? { group: "", version: parts[0] } : { group: parts[0], version: parts[1] };
}

/** BannedOwners: objects that may never own another. */
const BANNED_OWNERS = new Set(["/v1, Kind=Event"]);

function ownerReferenceErrors(refs: Record<string, unknown>[]): FieldError[] {
  const errs: FieldError[] = [];
  const path = "metadata.ownerReferences";
  let firstController = "";
  for (const ref of refs) {
    const apiVersion = String(ref.apiVersion ?? "");
    const kind = String(ref.kind ?? "");
    const gv = groupVersionOf(apiVersion);
    if (!gv.version) errs.push(invalidValue(`${path}.apiVersion`, apiVersion, "version must not be empty"));
    if (!kind) errs.push(invalidValue(`${path}.kind`, kind, "kind must not be empty"));
    if (!ref.name) errs.push(invalidValue(`${path}.name`, String(ref.name ?? ""), "name must not be empty"));
    if (!ref.uid) errs.push(invalidValue(`${path}.uid`, String(ref.uid ?? ""), "uid must not be empty"));
    const gvk = `${gv.group}/${gv.version}, Kind=${kind}`;
    if (BANNED_OWNERS.has(gvk))
      errs.push(invalidValue(path, ref, `${gvk} is disallowed from being an owner`));
    if (ref.controller === true) {
      const current = `${kind}/${String(ref.name ?? "")}`;
      // one error for each controller after the first
      if (firstController) {
        errs.push(
          invalidValue(
            path,
            refs,
            `Only one reference can have Controller set to true. Found "true" in references for ${firstController} and ${current}`,
          ),
        );
      } else firstController = current;
    }
  }
  return errs;
}

/** ValidateFinalizers: each name qualified, and not both orphan and foregroundDeletion. */
function finalizerErrors(finalizers: string[]): FieldError[] {
  const path = "metadata.finalizers";
  const errs: FieldError[] = [];
  for (const f of finalizers) for (const m of isQualifiedName(f)) errs.push(invalidValue(path, f, m));
  if (finalizers.includes("orphan") && finalizers.includes("foregroundDeletion")) {
    errs.push(
      invalidValue(
        path,
        new GoSyntax(`[]string{${finalizers.map(goQuote).join(", ")}}`),
        "finalizer orphan and foregroundDeletion cannot be both set",
      ),
    );
  }
  return errs;
}
