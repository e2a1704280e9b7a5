import { badRequest } from "./status.js";

/**
 * Resource versions on the wire are decimal strings of the store's counter. One parser for every
 * place a client hands one in (query parameters, metadata, preconditions, continue tokens).
 */

/**
 * undefined or "" → undefined; a non-negative decimal integer → its value ("0" → 0, which callers
 * read as "any"); anything else → 400 BadRequest worded as the API server words it
 * (`invalid resource version: resourceVersion: Invalid value: "x": strconv.ParseUint: ...`).
 * `what` names the field in the message.
 */
export function parseResourceVersion(s: string | undefined, what = "resourceVersion"): number | undefined {
  if (s === undefined || s === "") return undefined;
  let reason: string | undefined;
  if (!/^[0-9]+$/.test(s)) reason = "invalid syntax";
  else {
    const n = Number(s);
    if (Number.isSafeInteger(n)) return n;
    // Go accepts up to 2^64-1; past 2^53 a JavaScript number would silently round.
    reason = "value out of range";
  }
  throw badRequest(
    `invalid resource version: ${what}: Invalid value: ${JSON.stringify(s)}: strconv.ParseUint: parsing ${JSON.stringify(s)}: ${reason}`,
  );
}

export function formatResourceVersion(n: number): string {
  return String(n);
}
