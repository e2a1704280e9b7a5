import { parseFieldSelector } from "../apimachinery/fields.js";
import { parseLabelSelector } from "../apimachinery/labels.js";
import { parseResourceVersion } from "../apimachinery/resourceversion.js";
import type { FieldSelector, LabelSelector } from "../apimachinery/selector-ast.js";
import { badRequest, invalid, type StatusCause } from "../apimachinery/status.js";
import { isPlainObject } from "../apimachinery/types.js";
import { managerOf } from "./managedfields.js";

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

function parseDryRun(values: string[]): boolean {
  for (const v of values) {
    if (v !== "All") {
      throw invalid("meta.k8s.io", "CreateOptions", "", [notSupported("dryRun", v, ["All"])]);
    }
  }
  return values.length > 0;
}

export function parseMutationOptions(q: URLSearchParams, userAgent?: string): MutationOptions {
  const fv = q.get("fieldValidation") ?? "";
  let fieldValidation: FieldValidation;
  // The default for CRDs since 1.27 is Warn; kubectl asks for Strict explicitly.
  if (fv === "" || fv === "Warn") fieldValidation = "Warn";
  else if (fv === "Strict" || fv === "Ignore") fieldValidation = fv;
  else {
    throw badRequest(`fieldValidation invalid value: ${fv}. Valid values are Strict, Warn and Ignore`);
  }
  const fieldManager = q.get("fieldManager") ?? undefined;
  if (fieldManager !== undefined && fieldManager.length > 128) {
    throw badRequest("fieldManager: Too long: may not be more than 128 bytes");
  }
  return {
    dryRun: parseDryRun(q.getAll("dryRun")),
    fieldValidation,
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
}

/** DeleteOptions come from the body (kubectl, client-go) or the query (curl). */
export function parseDeleteOptions(q: URLSearchParams, body: unknown): DeleteOptions {
  const o: DeleteOptions = { dryRun: parseDryRun(q.getAll("dryRun")) };
  const pp = q.get("propagationPolicy");
  if (pp) o.propagationPolicy = pp as DeleteOptions["propagationPolicy"];
  const gp = q.get("gracePeriodSeconds");
  if (gp) o.gracePeriodSeconds = Number(gp);
  if (body !== undefined) {
    if (!isPlainObject(body)) throw badRequest("the body of a DELETE must be DeleteOptions");
    if (Array.isArray(body.dryRun)) o.dryRun = parseDryRun(body.dryRun.map(String)) || o.dryRun;
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
    if (body.orphanDependents === true && !o.propagationPolicy) o.propagationPolicy = "Orphan";
  }
  if (o.propagationPolicy && !["Orphan", "Background", "Foreground"].includes(o.propagationPolicy)) {
    throw invalid("meta.k8s.io", "DeleteOptions", "", [
      notSupported("propagationPolicy", o.propagationPolicy, ["Foreground", "Background", "Orphan", "nil"]),
    ]);
  }
  return o;
}
