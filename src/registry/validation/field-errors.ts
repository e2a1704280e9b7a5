/**
 * Field errors as k8s.io/apimachinery/pkg/util/validation/field prints them: the cause reason is the
 * error type and the message is `ErrorBody()`, so kubectl shows exactly what the real server shows.
 */
import { goQuote } from "../../apimachinery/go-format.js";
import type { StatusCause } from "../../apimachinery/status.js";

export type FieldErrorType =
  | "FieldValueRequired"
  | "FieldValueInvalid"
  | "FieldValueNotSupported"
  | "FieldValueTypeInvalid"
  | "FieldValueForbidden"
  | "FieldValueTooLong"
  | "FieldValueTooMany";

export interface FieldError {
  type: FieldErrorType;
  field: string;
  /** Printed after the type, as Go's `%v`/`%q` would; absent for types that never print a value. */
  badValue?: unknown;
  detail?: string;
}

const TYPE_TEXT: Record<FieldErrorType, string> = {
  FieldValueRequired: "Required value",
  FieldValueInvalid: "Invalid value",
  FieldValueNotSupported: "Unsupported value",
  FieldValueTypeInvalid: "Invalid value",
  FieldValueForbidden: "Forbidden",
  FieldValueTooLong: "Too long",
  FieldValueTooMany: "Too many",
};

/** A value already printed as Go's `%#v` prints it (a []string, say), shown as it is. */
export class GoSyntax {
  constructor(readonly text: string) {}
}

function printValue(v: unknown): string {
  if (v instanceof GoSyntax) return v.text;
  if (v === null || v === undefined) return "null";
  if (typeof v === "string") return goQuote(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}

export function errorBody(e: FieldError): string {
  const text = TYPE_TEXT[e.type];
  const valueless =
    e.type === "FieldValueRequired" || e.type === "FieldValueForbidden" || e.type === "FieldValueTooLong";
  let s = valueless ? text : `${text}: ${printValue(e.badValue)}`;
  if (e.detail) s += `: ${e.detail}`;
  return s;
}

export function toCause(e: FieldError): StatusCause {
  return { reason: e.type, message: errorBody(e), field: e.field };
}

export const required = (field: string, detail?: string): FieldError => ({
  type: "FieldValueRequired",
  field,
  detail,
});

export const invalidValue = (field: string, badValue: unknown, detail: string): FieldError => ({
  type: "FieldValueInvalid",
  field,
  badValue,
  detail,
});

export const forbidden = (field: string, detail: string): FieldError => ({
  type: "FieldValueForbidden",
  field,
  detail,
});

export function notSupported(field: string, badValue: unknown, allowed: unknown[]): FieldError {
  const quoted = allowed.map((a) => goQuote(typeof a === "string" ? a : JSON.stringify(a)));
  return {
    type: "FieldValueNotSupported",
    field,
    badValue,
    detail: quoted.length ? `supported values: ${quoted.join(", ")}` : undefined,
  };
}

export function tooLong(field: string, max: number): FieldError {
  return {
    type: "FieldValueTooLong",
    field,
    detail: `may not be more than ${max} ${max === 1 ? "byte" : "bytes"}`,
  };
}

export function tooMany(field: string, actual: number, max: number): FieldError {
  return { type: "FieldValueTooMany", field, badValue: actual, detail: `must have at most ${max} items` };
}
