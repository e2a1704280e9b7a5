import type { IncomingHttpHeaders } from "node:http";

/**
 * Reading identity headers from Node's header object. Node joins repeated headers with ", " (Go keeps
 * them apart); the aggregator sends one X-Remote-Group per group, so ", " splits them back. A server that
 * keeps repeated headers apart may pass arrays (e.g. from `req.headersDistinct`); those are used as-is.
 */
export function headerValues(headers: IncomingHttpHeaders, name: string, multi: boolean): string[] {
  const v = headers[name.toLowerCase()];
  if (v === undefined) return [];
  const list = Array.isArray(v) ? v : multi ? v.split(", ") : [v];
  return list.map((s) => s.trim()).filter((s) => s !== "");
}

export function firstHeader(headers: IncomingHttpHeaders, names: string[]): string | undefined {
  for (const n of names) {
    const v = headerValues(headers, n, false)[0];
    if (v) return v;
  }
  return undefined;
}

/** The bearer token of `Authorization: Bearer <token>`, as k8s.io/apiserver's bearertoken reads it. */
export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const auth = headerValues(headers, "authorization", false)[0];
  if (!auth) return undefined;
  const parts = auth.split(" ");
  if (parts.length < 2 || parts[0].toLowerCase() !== "bearer") return undefined;
  return parts[1] || undefined;
}
