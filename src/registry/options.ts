import { parseFieldSelector } from "../apimachinery/fields.js";
import { parseLabelSelector } from "../apimachinery/labels.js";
import { parseResourceVersion } from "../apimachinery/resourceversion.js";
import type { FieldSelector, LabelSelector } from "../apimachinery/selector-ast.js";
import { badRequest, invalid, type StatusCause } from "../apimachinery/status.js";
import { goKind, goQuote } from "../apimachinery/go-format.js";
import { isPlainObject } from "../apimachinery/types.js";
import { managerOf } from "./managedfields.js";
import {
  forbidden as fieldForbidden,
  invalidValue,
  notSupported as fieldNotSupported,
  tooLong,
  toCause,
} from "./validation/field-errors.js";

/** Query parameters of list and watch, parsed and checked as ValidateListOptions does. */
export interface ListParams {
  labelSelector: LabelSelector;
  fieldSelector: FieldSelector;
  limit?: number;
  continueToken?: string;
  resourceVersion?: string;
  resourceVersionMatch?: "Exact" | "NotOlderThan";
  watch: boolean;
  allowWatchBookmarks: boolean;
  sendInitialEvents?: boolean;
  timeoutSeconds?: number;
}

const forbidden = (field: string, msg: string): StatusCause => toCause(fieldForbidden(field, msg));
const notSupported = (field: string, value: string, supported: string[]): StatusCause =>
  toCause(fieldNotSupported(field, value, supported));

function bool(v: string | null): boolean | undefined {
  if (v === null) return undefined;
  if (v === "" || v === "true" || v === "1") return true;
  if (v === "false" || v === "0") return false;
  throw badRequest(`invalid boolean value "${v}"`);
}

/**
 * An int64 query parameter, as strconv.ParseInt(v, 10, 64) reads it (an empty one included, which
 * it refuses); a negative one counts as unset.
 */
function nonNegativeInt(name: string, v: string | null): number | undefined {
  if (v === null) return undefined;
  if (!/^[+-]?\d+$/.test(v) || BigInt(v) > 2n ** 63n - 1n || BigInt(v) < -(2n ** 63n)) {
    throw badRequest(`invalid value for ${name}: "${v}"`);
  }
  const n = Number(v);
  return n < 0 ? undefined : n;
}

export function parseListParams(q: URLSearchParams, watchVerb: boolean, namespaced = true): ListParams {
  const watch = watchVerb || bool(q.get("watch")) === true;
  const match = q.get("resourceVersionMatch") ?? "";
  const p: ListParams = {
    labelSelector: parseLabelSelector(q.get("labelSelector") ?? ""),
    fieldSelector: parseFieldSelector(q.get("fieldSelector") ?? "", { namespaced }),
    limit: nonNegativeInt("limit", q.get("limit")) || undefined,
    continueToken: q.get("continue") || undefined,
    resourceVersion: q.get("resourceVersion") ?? undefined,
    resourceVersionMatch: (match || undefined) as ListParams["resourceVersionMatch"],
    watch,
    allowWatchBookmarks: bool(q.get("allowWatchBookmarks")) === true,
    sendInitialEvents: bool(q.get("sendInitialEvents")),
    timeoutSeconds: nonNegativeInt("timeoutSeconds", q.get("timeoutSeconds")),
  };
  parseResourceVersion(p.resourceVersion);
  const errs: StatusCause[] = [];
  if (watch) {
    if (p.sendInitialEvents !== undefined && match !== "NotOlderThan") {
      errs.push(
        forbidden(
          "resourceVersionMatch",
          "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
        ),
      );
    }
    if (match) {
      if (p.sendInitialEvents === undefined) {
        errs.push(
          forbidden(
            "resourceVersionMatch",
            "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
          ),
        );
      }
      if (match !== "NotOlderThan") errs.push(notSupported("resourceVersionMatch", match, ["NotOlderThan"]));
      if (p.continueToken) {
        errs.push(
          forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided"),
        );
      }
    }
  } else {
    if (match) {
      if (!p.resourceVersion) {
        errs.push(
          forbidden(
            "resourceVersionMatch",
            "resourceVersionMatch is forbidden unless resourceVersion is provided",
          ),
        );
      }
      if (p.continueToken) {
        errs.push(
          forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided"),
        );
      }
      if (match !== "Exact" && match !== "NotOlderThan") {
        errs.push(notSupported("resourceVersionMatch", match, ["Exact", "NotOlderThan", ""]));
      }
      if (match === "Exact" && p.resourceVersion === "0") {
        errs.push(
          forbidden(
            "resourceVersionMatch",
            'resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
          ),
        );
      }
    }
    if (p.sendInitialEvents !== undefined) {
      errs.push(forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"));
    }
  }
  if (errs.length > 0) throw invalid("meta.k8s.io", "ListOptions", "", errs);
  return p;
}

export type FieldValidation = "Strict" | "Warn" | "Ignore";

export interface MutationOptions {
  dryRun: boolean;
  fieldValidation: FieldValidation;
  fieldManager?: string;
  /** Who owns the fields this request sets: fieldManager, else the user agent's program name. */
  manager: string;
  force: boolean;
  /** Duplicate fields found in the raw body (JSON.parse keeps only the last): reported like unknown fields. */
  duplicates?: string[];
  /** Keys a YAML body repeats, as `line 5: key "name" already set in map` (parseYamlBody). */
  yamlDuplicates?: string[];
}

/** The options type a verb's query decodes into: what a 422 about them names. */
export type OptionsKind = "CreateOptions" | "UpdateOptions" | "PatchOptions" | "DeleteOptions";

/** ValidateDryRun: the whole list is printed as Go prints a []string. */
function dryRunErrors(values: string[]): StatusCause[] {
  if (values.every((v) => v === "All")) return [];
  const shown = `[]string{${values.map(goQuote).join(", ")}}`;
  return [
    {
      reason: "FieldValueNotSupported",
      message: `Unsupported value: ${shown}: supported values: "All"`,
      field: "dryRun",
    },
  ];
}

const FIELD_VALIDATION = ["", "Ignore", "Strict", "Warn"];
const FIELD_MANAGER_MAX_BYTES = 128;

/** Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. */
const NOT_PRINTABLE = /[^\p{L}\p{M}\p{N}\p{P}\p{S} ]/gu;

/** ValidateFieldManager: at most 128 bytes, every character printable. */
function fieldManagerErrors(fieldManager: string): StatusCause[] {
  const errs: StatusCause[] = [];
  if (Buffer.byteLength(fieldManager) > FIELD_MANAGER_MAX_BYTES) {
    errs.push(toCause(tooLong("fieldManager", FIELD_MANAGER_MAX_BYTES)));
  }
  for (const m of fieldManager.matchAll(NOT_PRINTABLE)) {
    const code = m[0].codePointAt(0) ?? 0;
    const at = Buffer.byteLength(fieldManager.slice(0, m.index));
    const u = `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
    errs.push(
      toCause(invalidValue("fieldManager", fieldManager, `invalid character ${u} (at position ${at})`)),
    );
  }
  return errs;
}

/** The options of a create, update or patch, checked as Validate{Create,Update,Patch}Options does. */
export function parseMutationOptions(
  q: URLSearchParams,
  userAgent: string | undefined,
  kind: Exclude<OptionsKind, "DeleteOptions">,
): MutationOptions {
  const errs: StatusCause[] = [];
  const fieldManager = q.get("fieldManager") ?? undefined;
  if (fieldManager !== undefined) errs.push(...fieldManagerErrors(fieldManager));
  const dryRun = q.getAll("dryRun");
  errs.push(...dryRunErrors(dryRun));
  const fv = q.get("fieldValidation") ?? "";
  if (!FIELD_VALIDATION.includes(fv)) {
    errs.push(toCause(fieldNotSupported("fieldValidation", fv, FIELD_VALIDATION)));
  }
  if (errs.length > 0) throw invalid("meta.k8s.io", kind, "", errs);
  return {
    dryRun: dryRun.length > 0,
    // The default for CRDs since 1.27 is Warn; kubectl asks for Strict explicitly.
    fieldValidation: fv === "" ? "Warn" : (fv as FieldValidation),
    fieldManager,
    manager: managerOf(fieldManager, userAgent),
    force: bool(q.get("force")) === true,
  };
}

export interface DeleteOptions {
  dryRun: boolean;
  preconditions?: { uid?: string; resourceVersion?: string };
  propagationPolicy?: "Orphan" | "Background" | "Foreground";
  gracePeriodSeconds?: number;
  /** The deprecated form of Orphan; false also asks for 202 when the object stays (finalizers). */
  orphanDependents?: boolean;
}

/** DeleteOptions as sent, before validation. */
type SentDeleteOptions = Omit<DeleteOptions, "dryRun" | "propagationPolicy"> & {
  dryRun: string[];
  propagationPolicy?: string;
};

function deleteOptionsFromQuery(q: URLSearchParams): SentDeleteOptions {
  const o: SentDeleteOptions = { dryRun: q.getAll("dryRun") };
  // a parameter given empty is a policy of "" (rejected below), as the query decoder reads it
  const pp = q.get("propagationPolicy");
  if (pp !== null) o.propagationPolicy = pp;
  const gp = q.get("gracePeriodSeconds");
  if (gp) {
    // the query decoder's strconv.ParseInt
    if (!/^[+-]?\d+$/.test(gp))
      throw badRequest(`strconv.ParseInt: parsing ${JSON.stringify(gp)}: invalid syntax`);
    o.gracePeriodSeconds = Number(gp);
  }
  // Convert_Slice_string_To_Pointer_bool: "0" and any case of "false" are false, anything else true
  const orphan = q.get("orphanDependents");
  if (orphan !== null) o.orphanDependents = !(orphan === "0" || orphan.toLowerCase() === "false");
  return o;
}

/** The Go type of each DeleteOptions field a body may set (null leaves any of them unset). */
const DELETE_OPTION_TYPES: Record<string, "string" | "int64" | "bool" | "[]string" | "Preconditions"> = {
  kind: "string",
  apiVersion: "string",
  gracePeriodSeconds: "int64",
  preconditions: "Preconditions",
  orphanDependents: "bool",
  propagationPolicy: "string",
  dryRun: "[]string",
};
const PRECONDITION_TYPES = { uid: "string", resourceVersion: "string" } as const;

/** encoding/json's complaint about a value that does not fit its field's Go type; undefined when it fits. */
function typeMismatch(path: string, v: unknown, type: string): string | undefined {
  if (v === null || v === undefined) return undefined;
  const wrong = (what = goKind(v)) =>
    `json: cannot unmarshal ${what} into Go struct field ${path} of type ${type}`;
  switch (type) {
    case "string":
      return typeof v === "string" ? undefined : wrong();
    case "bool":
      return typeof v === "boolean" ? undefined : wrong();
    case "int64":
      if (typeof v !== "number") return wrong();
      return Number.isInteger(v) ? undefined : wrong(`number ${v}`);
    case "[]string":
      if (!Array.isArray(v)) return wrong();
      for (const item of v) if (typeof item !== "string") return typeMismatch(path, item, "string");
      return undefined;
    default:
      return isPlainObject(v) ? undefined : wrong();
  }
}

/**
 * A DELETE body decoded as the API server decodes it into DeleteOptions: a field of the wrong type
 * fails the whole request (400) rather than being dropped, so that a mistyped dryRun or
 * precondition never turns into a real, unconditional delete; another kind is refused too.
 */
function checkDeleteOptionsBody(body: Record<string, unknown>): void {
  for (const [field, type] of Object.entries(DELETE_OPTION_TYPES)) {
    const err = typeMismatch(`DeleteOptions.${field}`, body[field], type);
    if (err) throw badRequest(err);
  }
  if (isPlainObject(body.preconditions)) {
    for (const [field, type] of Object.entries(PRECONDITION_TYPES)) {
      // encoding/json names the innermost struct
      const err = typeMismatch(`Preconditions.preconditions.${field}`, body.preconditions[field], type);
      if (err) throw badRequest(err);
    }
  }
  const kind = body.kind ?? "";
  if (kind !== "" && kind !== "DeleteOptions") {
    throw badRequest(
      `no kind ${goQuote(String(kind))} is registered for version ${goQuote(String(body.apiVersion ?? ""))}`,
    );
  }
}

function deleteOptionsFromBody(body: unknown): SentDeleteOptions {
  if (!isPlainObject(body)) throw badRequest("the body of a DELETE must be DeleteOptions");
  checkDeleteOptionsBody(body);
  const o: SentDeleteOptions = { dryRun: Array.isArray(body.dryRun) ? body.dryRun.map(String) : [] };
  if (isPlainObject(body.preconditions)) {
    const pc = body.preconditions;
    o.preconditions = {
      uid: typeof pc.uid === "string" ? pc.uid : undefined,
      resourceVersion: typeof pc.resourceVersion === "string" ? pc.resourceVersion : undefined,
    };
  }
  if (typeof body.propagationPolicy === "string") o.propagationPolicy = body.propagationPolicy;
  if (typeof body.gracePeriodSeconds === "number") o.gracePeriodSeconds = body.gracePeriodSeconds;
  if (typeof body.orphanDependents === "boolean") o.orphanDependents = body.orphanDependents;
  return o;
}

const PROPAGATION = ["Foreground", "Background", "Orphan"];

/**
 * DeleteOptions come from the body (kubectl, client-go) or, when there is none, from the query
 * (curl, client-node): never both, as the API server reads them. Checked as ValidateDeleteOptions
 * does. The deprecated orphanDependents stands for a policy: true is Orphan, false Background.
 */
export function parseDeleteOptions(q: URLSearchParams, body: unknown): DeleteOptions {
  const sent = body === undefined ? deleteOptionsFromQuery(q) : deleteOptionsFromBody(body);
  const errs: StatusCause[] = [];
  const pp = sent.propagationPolicy;
  if (sent.orphanDependents !== undefined && pp !== undefined) {
    errs.push(
      toCause(
        invalidValue("propagationPolicy", pp, "orphanDependents and deletionPropagation cannot be both set"),
      ),
    );
  }
  if (pp !== undefined && !PROPAGATION.includes(pp)) {
    errs.push(toCause(fieldNotSupported("propagationPolicy", pp, [...PROPAGATION, "nil"])));
  }
  errs.push(...dryRunErrors(sent.dryRun));
  if (errs.length > 0) throw invalid("meta.k8s.io", "DeleteOptions", "", errs);
  const { dryRun, propagationPolicy, ...rest } = sent;
  const o: DeleteOptions = { ...rest, dryRun: dryRun.length > 0 };
  if (propagationPolicy) o.propagationPolicy = propagationPolicy as DeleteOptions["propagationPolicy"];
  if (sent.orphanDependents !== undefined)
    o.propagationPolicy = sent.orphanDependents ? "Orphan" : "Background";
  return o;
}
