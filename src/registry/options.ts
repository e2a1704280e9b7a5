import { parseFieldSelector } from "../apimachinery/fields.js";
import { parseLabelSelector } from "../apimachinery/labels.js";
import { parseResourceVersion } from "../apimachinery/resourceversion.js";
import type { FieldSelector, LabelSelector } from "../apimachinery/selector-ast.js";
import { badRequest, invalid, type StatusCause } from "../apimachinery/status.js";
import { isPlainObject } from "../apimachinery/types.js";
import { managerOf } from "./managedfields.js";
import { notSupported as fieldNotSupported, tooLong, toCause } from "./validation/field-errors.js";

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

const forbidden = (field: string, msg: string): StatusCause => ({
  reason: "FieldValueForbidden",
  message: `Forbidden: ${msg}`,
  field,
});

const notSupported = (field: string, value: string, supported: string[]): StatusCause => ({
  reason: "FieldValueNotSupported",
  message: `Unsupported value: "${value}": supported values: ${supported.map((s) => `"${s}"`).join(", ")}`,
  field,
});

function bool(v: string | null): boolean | undefined {
  if (v === null) return undefined;
  if (v === "" || v === "true" || v === "1") return true;
  if (v === "false" || v === "0") return false;
  throw badRequest(`invalid boolean value "${v}"`);
}

function nonNegativeInt(name: string, v: string | null): number | undefined {
  if (v === null || v === "") return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw badRequest(`invalid value for ${name}: "${v}"`);
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
  const shown = `[]string{${values.map((v) => JSON.stringify(v)).join(", ")}}`;
  return [
    {
      reason: "FieldValueNotSupported",
      message: `Unsupported value: ${shown}: supported values: "All"`,
      field: "dryRun",
    },
  ];
}

function parseDryRun(values: string[], kind: OptionsKind): boolean {
  const errs = dryRunErrors(values);
  if (errs.length > 0) throw invalid("meta.k8s.io", kind, "", errs);
  return values.length > 0;
}

const FIELD_VALIDATION = ["", "Ignore", "Strict", "Warn"];
const FIELD_MANAGER_MAX_BYTES = 128;

/** The options of a create, update or patch, checked as Validate{Create,Update,Patch}Options does. */
export function parseMutationOptions(
  q: URLSearchParams,
  userAgent: string | undefined,
  kind: Exclude<OptionsKind, "DeleteOptions">,
): MutationOptions {
  const errs: StatusCause[] = [];
  const fieldManager = q.get("fieldManager") ?? undefined;
  if (fieldManager !== undefined && Buffer.byteLength(fieldManager) > FIELD_MANAGER_MAX_BYTES) {
    errs.push(toCause(tooLong("fieldManager", FIELD_MANAGER_MAX_BYTES)));
  }
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

/** DeleteOptions come from the body (kubectl, client-go) or the query (curl). */
export function parseDeleteOptions(q: URLSearchParams, body: unknown): DeleteOptions {
  const o: DeleteOptions = { dryRun: parseDryRun(q.getAll("dryRun"), "DeleteOptions") };
  const pp = q.get("propagationPolicy");
  if (pp) o.propagationPolicy = pp as DeleteOptions["propagationPolicy"];
  const gp = q.get("gracePeriodSeconds");
  if (gp) {
    // the query decoder's strconv.ParseInt
    if (!/^[+-]?\d+$/.test(gp))
      throw badRequest(`strconv.ParseInt: parsing ${JSON.stringify(gp)}: invalid syntax`);
    o.gracePeriodSeconds = Number(gp);
  }
  if (body !== undefined) {
    if (!isPlainObject(body)) throw badRequest("the body of a DELETE must be DeleteOptions");
    if (Array.isArray(body.dryRun))
      o.dryRun = parseDryRun(body.dryRun.map(String), "DeleteOptions") || o.dryRun;
    if (isPlainObject(body.preconditions)) {
      const pc = body.preconditions;
      o.preconditions = {
        uid: typeof pc.uid === "string" ? pc.uid : undefined,
        resourceVersion: typeof pc.resourceVersion === "string" ? pc.resourceVersion : undefined,
      };
    }
    if (typeof body.propagationPolicy === "string") {
      o.propagationPolicy = body.propagationPolicy as DeleteOptions["propagationPolicy"];
    }
    if (typeof body.gracePeriodSeconds === "number") o.gracePeriodSeconds = body.gracePeriodSeconds;
    if (typeof body.orphanDependents === "boolean") o.orphanDependents = body.orphanDependents;
    if (body.orphanDependents === true && !o.propagationPolicy) o.propagationPolicy = "Orphan";
  }
  if (o.propagationPolicy && !["Orphan", "Background", "Foreground"].includes(o.propagationPolicy)) {
    throw invalid("meta.k8s.io", "DeleteOptions", "", [
      notSupported("propagationPolicy", o.propagationPolicy, ["Foreground", "Background", "Orphan", "nil"]),
    ]);
  }
  return o;
}
