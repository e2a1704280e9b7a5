/**
 * What kube-apiserver does to a custom resource on create and update, in its order:
 * decode (type meta, duplicate and unknown fields per `fieldValidation`, pruning) → the caller's
 * defaulting (generateName, uid, timestamps) → validate (ObjectMeta rules, then the CRD schema) → 422.
 */
import { badRequest, invalid, StatusError, type StatusCause } from "../apimachinery/status.js";
import { isPlainObject, type KubeObject, type ObjectMeta } from "../apimachinery/types.js";
import type { ResourceDef } from "../resources/types.js";
import { invalidValue, toCause } from "./validation/field-errors.js";
import { coerceObjectMeta, MetadataTypeError, objectMetaErrors } from "./validation/objectmeta.js";
import { compileSchema, prune, type SchemaNode, validateSchema } from "./validation/schema.js";
import { goKind } from "../apimachinery/go-format.js";

export { duplicateFieldsOf, findDuplicateFields } from "./validation/duplicates.js";

/** The `fieldValidation` query parameter; the real server's default is Warn. */
export type FieldValidation = "Strict" | "Warn" | "Ignore";

export interface DecodeResult {
  object: KubeObject;
  /** `unknown field "spec.bogus"` / `duplicate field "a"`: one Warning header each in Warn mode. */
  warnings: string[];
}

export interface ValidateOptions {
  /** Paths from findDuplicateFields(rawBody), reported before unknown fields as the real server does. */
  duplicates?: string[];
  /** Keys a YAML body repeats, as parseYamlBody reports them (before everything else). */
  yamlDuplicates?: string[];
  /** Check ObjectMeta (name, namespace, labels…) too; default true. */
  checkMetadata?: boolean;
  isCreate?: boolean;
  /** For an update: the stored object, whose immutable metadata the new one must keep. */
  old?: KubeObject;
}

const compiled = new WeakMap<ResourceDef, SchemaNode>();

function schemaOf(def: ResourceDef): SchemaNode {
  let node = compiled.get(def);
  if (!node) {
    node = compileSchema(def.schema);
    compiled.set(def, node);
  }
  return node;
}

/** The schema check for a kind, compiled on first use and cached: returns the 422 causes of an object. */
export function compileValidator(def: ResourceDef): (obj: unknown) => StatusCause[] {
  const root = schemaOf(def);
  return (obj) => validateSchema(obj, root).map(toCause);
}

function summarize(obj: unknown): string {
  const s = JSON.stringify(obj) ?? "";
  if (s.length === 0) return "<empty>";
  return s.length > 30 ? `${s.slice(0, 30)} ...` : s;
}

function unrecognized(def: ResourceDef, obj: unknown, why: string): never {
  throw badRequest(
    `the object provided is unrecognized (must be of type ${def.kind}): ${why} (${summarize(obj)})`,
  );
}

/** A body the decoder cannot turn into the kind: 400, or, for a patch's result, a 422 on `patch`. */
export class DecodeError extends StatusError {
  constructor(
    def: ResourceDef,
    /** The decoder's own words, which a patch's 422 quotes. */
    readonly why: string,
  ) {
    super(
      400,
      "BadRequest",
      `${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}: ${why}`,
    );
  }
}

function cannotBeHandled(def: ResourceDef, why: string): never {
  throw new DecodeError(def, why);
}

/**
 * What a merge or JSON patch whose result does not decode answers (jsonPatcher's
 * applyPatchToCurrentObject): 422 on the field `patch`, quoting the patched object.
 */
export function patchResultInvalid(patchedJson: string, err: DecodeError): StatusError {
  return invalid("", "", "", [toCause(invalidValue("patch", patchedJson, err.why))]);
}

/** The decoder's words for JSON that is no object (SimpleMetaFactory.Interpret reads version and kind first). */
export function notAnObject(v: unknown): string {
  return `couldn't get version/kind; json parse error: json: cannot unmarshal ${goKind(v)} into Go value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }`;
}

/**
 * The decoding step: checks apiVersion and kind, then drops unknown fields (in place, on `obj`), which
 * Strict mode turns into a 400 and Warn mode into warnings. Throws StatusError.
 */
export function decodeObject(
  def: ResourceDef,
  obj: unknown,
  mode: FieldValidation,
  duplicates: string[] = [],
  yamlDuplicates: string[] = [],
): DecodeResult {
  if (!isPlainObject(obj)) unrecognized(def, obj, notAnObject(obj));
  const kind = typeof obj.kind === "string" ? obj.kind : "";
  if (!kind) unrecognized(def, obj, `Object 'Kind' is missing in '${JSON.stringify(obj)}'`);
  const apiVersion = typeof obj.apiVersion === "string" ? obj.apiVersion : "";
  if (apiVersion !== def.groupVersion) {
    throw badRequest(
      `the API version in the data (${apiVersion}) does not match the expected API version (${def.groupVersion})`,
    );
  }
  if (kind !== def.kind) {
    const name =
      isPlainObject(obj.metadata) && typeof obj.metadata.name === "string" ? obj.metadata.name : "";
    throw invalid(def.group, def.kind, name, [toCause(invalidValue("kind", kind, `must be ${def.kind}`))]);
  }
  if (obj.metadata === undefined || obj.metadata === null) obj.metadata = {};
  if (!isPlainObject(obj.metadata)) {
    cannotBeHandled(
      def,
      `json: cannot unmarshal ${goKind(obj.metadata)} into Go value of type v1.ObjectMeta`,
    );
  }
  let metaUnknown: string[];
  try {
    metaUnknown = coerceObjectMeta(obj.metadata);
  } catch (e) {
    if (e instanceof MetadataTypeError) cannotBeHandled(def, e.message);
    throw e;
  }
  const root = schemaOf(def);
  const pruned = prune(obj, root, true);

  const problems = [
    ...duplicates.map((p) => `duplicate field "${p}"`),
    ...metaUnknown.map((p) => `unknown field "${p}"`),
    ...pruned.map((p) => `unknown field "${p}"`),
  ];
  if ((problems.length || yamlDuplicates.length) && mode === "Strict") {
    // go-yaml's error lists its lines in one message, ahead of the field problems
    const yaml = yamlDuplicates.length ? [`yaml: unmarshal errors:\n  ${yamlDuplicates.join("\n  ")}`] : [];
    cannotBeHandled(def, `strict decoding error: ${[...yaml, ...problems].join(", ")}`);
  }
  return { object: obj as KubeObject, warnings: mode === "Warn" ? [...yamlDuplicates, ...problems] : [] };
}

/** The 422 causes for a decoded (and defaulted) object: ObjectMeta first, then the schema. */
export function validationCauses(
  def: ResourceDef,
  object: KubeObject,
  opts: ValidateOptions = {},
): StatusCause[] {
  const causes: StatusCause[] = [];
  if (opts.checkMetadata !== false) {
    causes.push(
      ...objectMetaErrors(def, object.metadata, {
        isCreate: opts.isCreate ?? !opts.old,
        old: opts.old?.metadata,
      }).map(toCause),
    );
  }
  causes.push(...compileValidator(def)(object));
  return causes;
}

/** Throws the 422 Invalid for a decoded (and defaulted) object, if it has any problem. */
export function validateDecoded(def: ResourceDef, object: KubeObject, opts: ValidateOptions = {}): void {
  const causes = validationCauses(def, object, opts);
  if (causes.length) throw invalid(def.group, def.kind, object.metadata.name ?? "", causes);
}

/** Decode and validate in one step (for bodies that need no defaulting between the two). */
export function validateObject(
  def: ResourceDef,
  obj: unknown,
  mode: FieldValidation,
  opts: ValidateOptions = {},
): DecodeResult {
  const result = decodeObject(def, obj, mode, opts.duplicates, opts.yamlDuplicates);
  validateDecoded(def, result.object, opts);
  return result;
}

/** ObjectMeta rules alone (name or generateName, namespace, labels, annotations, finalizers…): throws 422. */
export function validateMetadata(
  def: ResourceDef,
  meta: ObjectMeta,
  opts: { isCreate: boolean; old?: ObjectMeta },
): void {
  const causes = objectMetaErrors(def, meta, opts).map(toCause);
  if (causes.length) throw invalid(def.group, def.kind, meta.name ?? "", causes);
}
