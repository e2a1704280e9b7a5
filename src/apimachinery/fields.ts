import type { FieldRequirement, FieldSelector, SelectableField } from "./selector-ast.js";
import { badRequest } from "./status.js";

/**
 * Field selectors as k8s.io/apimachinery/pkg/fields parses them, restricted to the fields a custom
 * resource can be selected by (the CRD field label conversion): `metadata.name`, and
 * `metadata.namespace` for namespaced kinds. Messages are the API server's.
 */

export interface FieldSelectorOptions {
  /** Cluster-scoped kinds do not support `metadata.namespace` (as for CRDs). Default true. */
  namespaced?: boolean;
}

/** Splits on commas that are not escaped with a backslash; the backslashes stay in the terms. */
function splitTerms(s: string): string[] {
  const terms: string[] = [];
  let start = 0;
  let inSlash = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inSlash) inSlash = false;
    else if (c === "\\") inSlash = true;
    else if (c === ",") {
      terms.push(s.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(s.slice(start));
  return terms;
}

/** The first `!=`, `==` or `=` splits a term; the field itself cannot be escaped. */
function splitTerm(term: string): { lhs: string; op: "!=" | "==" | "="; rhs: string } | undefined {
  for (let i = 0; i < term.length; i++) {
    if (term.startsWith("!=", i)) return { lhs: term.slice(0, i), op: "!=", rhs: term.slice(i + 2) };
    if (term.startsWith("==", i)) return { lhs: term.slice(0, i), op: "==", rhs: term.slice(i + 2) };
    if (term[i] === "=") return { lhs: term.slice(0, i), op: "=", rhs: term.slice(i + 1) };
  }
  return undefined;
}

/** Undoes `\\`, `\,` and `\=`; a bare `,` or `=` or any other escape is an error. */
function unescapeValue(s: string): string {
  if (!/[\\,=]/.test(s)) return s;
  let out = "";
  let inSlash = false;
  for (const c of s) {
    if (inSlash) {
      if (c !== "\\" && c !== "," && c !== "=") {
        throw badRequest(`invalid field selector: invalid escape sequence: \\${c}`);
      }
      out += c;
      inSlash = false;
    } else if (c === "\\") {
      inSlash = true;
    } else if (c === "," || c === "=") {
      // Go prints the rune with %v: its code point.
      throw badRequest(`invalid field selector: unescaped character in value: ${c.codePointAt(0)}`);
    } else {
      out += c;
    }
  }
  if (inSlash) throw badRequest("invalid field selector: invalid escape sequence: \\");
  return out;
}

/** Escapes a literal for use as a field selector value (`fields.EscapeValue`). */
export function escapeFieldValue(s: string): string {
  return s.replace(/[\\,=]/g, (c) => `\\${c}`);
}

/** One term of a field selector on any field, as fields.Selector.Requirements() gives it. */
export interface FieldTerm {
  field: string;
  op: "=" | "!=";
  value: string;
}

/**
 * fields.ParseSelector: the terms sorted, values unescaped, any field name (which fields a kind
 * supports is checked later, by parseFieldSelector). Throws 400 BadRequest.
 */
export function parseFieldTerms(s: string): FieldTerm[] {
  if (s === "") return [];
  const parts = splitTerms(s).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const parsed: FieldTerm[] = [];
  for (const part of parts) {
    if (part === "") continue;
    const t = splitTerm(part);
    if (t === undefined) throw badRequest(`invalid selector: '${s}'; can't understand '${part}'`);
    parsed.push({ field: t.lhs, op: t.op === "!=" ? "!=" : "=", value: unescapeValue(t.rhs) });
  }
  return parsed;
}

/**
 * The value a field selector requires `field` to equal (RequiresExactMatch: the first such term in
 * sorted order), read as the request info reads it: any field may appear, and a selector that does
 * not parse requires nothing.
 */
export function requiredFieldValue(s: string, field: string): string | undefined {
  try {
    return parseFieldTerms(s).find((t) => t.field === field && t.op === "=")?.value;
  } catch {
    return undefined;
  }
}

/**
 * Parses a `fieldSelector` query parameter; the empty string selects everything. Terms come back
 * sorted as the API server sorts them. Throws 400 BadRequest with the API server's message.
 */
export function parseFieldSelector(s: string, opts: FieldSelectorOptions = {}): FieldSelector {
  const parsed = parseFieldTerms(s);
  // Parsing finishes before field labels are checked, as in the API server.
  const namespaced = opts.namespaced ?? true;
  const out: FieldRequirement[] = [];
  for (const p of parsed) {
    if (p.field !== "metadata.name" && !(namespaced && p.field === "metadata.namespace")) {
      throw badRequest(`field label not supported: ${p.field}`);
    }
    out.push({ field: p.field as SelectableField, op: p.op, value: p.value });
  }
  return out;
}

/** Whether an object's name and namespace satisfy every requirement. */
export function matchFields(sel: FieldSelector, meta: { name: string; namespace: string }): boolean {
  for (let i = 0; i < sel.length; i++) {
    const r = sel[i];
    const v = r.field === "metadata.name" ? meta.name : meta.namespace;
    if ((v === r.value) !== (r.op === "=")) return false;
  }
  return true;
}

/** The canonical text of a field selector, with values escaped. */
export function formatFieldSelector(sel: FieldSelector): string {
  return sel.map((r) => `${r.field}${r.op}${escapeFieldValue(r.value)}`).join(",");
}
