import { INT64_MAX, INT64_MIN } from "../../apimachinery/labels.js";
import type { FieldSelector, LabelRequirement, LabelSelector } from "../../apimachinery/selector-ast.js";

/**
 * Label and field selectors as SQL conditions on report_objects, so that lists filter where the data
 * lives. Pure: it returns text with numbered placeholders and the values that fill them.
 *
 * Label conditions use only `@>` and `?` on the `labels` jsonb column, the operators its GIN index
 * serves. `!=`, `notin` and `!key` are negations, so they also match objects without the key, as
 * Kubernetes selectors do. `>` and `<` narrow by `?` and compare the value only where it is an int64.
 */

export type SqlParam = string | number;

/** Placeholders numbered after those already in a statement. */
export class ParamList {
  readonly values: SqlParam[] = [];
  constructor(private readonly offset = 0) {}

  add(value: SqlParam): string {
    this.values.push(value);
    return `$${this.offset + this.values.length}`;
  }
}

function contains(p: ParamList, column: string, key: string, value: string): string {
  return `${column} @> ${p.add(JSON.stringify({ [key]: value }))}::text::jsonb`;
}

function anyOf(p: ParamList, column: string, key: string, values: string[]): string {
  if (values.length === 0) return "false";
  const terms = values.map((v) => contains(p, column, key, v));
  return terms.length === 1 ? terms[0] : `(${terms.join(" OR ")})`;
}

/** Go's strconv.ParseInt syntax with at most 19 significant digits, so the numeric cast cannot fail. */
const INT_PATTERN = "'^[+-]?0*[0-9]{1,19}$'";

/**
 * `k>n` / `k<n`: false (never NULL, never an error) unless the label is there and is an int64. The
 * CASE keeps the cast behind the pattern test: PostgreSQL may evaluate the operands of AND in any order.
 */
function compareSql(column: string, key: string, op: "gt" | "lt", n: string): string {
  const v = `(${column} ->> ${key})`;
  const int64 = `${v}::numeric BETWEEN ${INT64_MIN} AND ${INT64_MAX}`;
  const cmp = `${v}::numeric ${op === "gt" ? ">" : "<"} ${n}::numeric`;
  return `(${column} ? ${key} AND CASE WHEN ${v} ~ ${INT_PATTERN} THEN ${int64} AND ${cmp} ELSE false END)`;
}

function requirementSql(req: LabelRequirement, p: ParamList, column: string): string {
  switch (req.op) {
    case "=":
      return contains(p, column, req.key, req.value);
    case "!=":
      return `NOT ${contains(p, column, req.key, req.value)}`;
    case "in":
      return anyOf(p, column, req.key, req.values);
    case "notin": {
      const any = anyOf(p, column, req.key, req.values);
      return any === "false" ? "true" : `NOT ${any}`;
    }
    case "exists":
      return `${column} ? ${p.add(req.key)}`;
    case "!":
      return `NOT (${column} ? ${p.add(req.key)})`;
    case "gt":
    case "lt":
      return compareSql(column, p.add(req.key), req.op, p.add(String(req.value)));
  }
}

/** The AND of a label selector as a list of conditions; empty when it matches everything. */
export function labelSelectorSql(sel: LabelSelector, p: ParamList, column = "labels"): string[] {
  const equal: Record<string, string> = {};
  const out: string[] = [];
  let haveEqual = false;
  for (const req of sel) {
    // Equalities (and single-value `in`) merge into one containment test: one index probe.
    const value =
      req.op === "=" ? req.value : req.op === "in" && req.values.length === 1 ? req.values[0] : undefined;
    if (value !== undefined && (equal[req.key] === undefined || equal[req.key] === value)) {
      equal[req.key] = value;
      haveEqual = true;
      continue;
    }
    if (value !== undefined) return ["false"]; // k=a and k=b
    out.push(requirementSql(req, p, column));
  }
  if (haveEqual) out.unshift(`${column} @> ${p.add(JSON.stringify(equal))}::text::jsonb`);
  return out;
}

const FIELD_COLUMNS = { "metadata.name": "name", "metadata.namespace": "namespace" } as const;

/** The AND of a field selector; metadata.namespace of a cluster-scoped object is "". */
export function fieldSelectorSql(sel: FieldSelector, p: ParamList): string[] {
  return sel.map((req) => `${FIELD_COLUMNS[req.field]} ${req.op === "=" ? "=" : "<>"} ${p.add(req.value)}`);
}
