import { setOwn } from "./types.js";

/**
 * The keys of a user's extra attributes, as the request-header authenticator and impersonation read
 * them from `X-Remote-Extra-<key>` and `Impersonate-Extra-<key>` headers.
 */

/**
 * unescapeExtraKey: url.PathUnescape of the (lower-cased) key, which stays as sent when it does not
 * decode. Bytes that are no UTF-8 become U+FFFD, as they would on their way out in JSON.
 */
export function unescapeExtraKey(encoded: string): string {
  if (!encoded.includes("%")) return encoded;
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    if (encoded[i] !== "%") {
      bytes.push(...Buffer.from(encoded[i], "utf8"));
      continue;
    }
    const hex = encoded.slice(i + 1, i + 3);
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) return encoded;
    bytes.push(parseInt(hex, 16));
    i += 2;
  }
  return Buffer.from(bytes).toString("utf8");
}

/**
 * Appends values under a key the client chose: `constructor` or `__proto__` name an own entry like
 * any other key, never what a plain object inherits.
 */
export function appendExtra(extra: Record<string, string[]>, key: string, values: readonly string[]): void {
  if (Object.hasOwn(extra, key)) extra[key].push(...values);
  else setOwn(extra, key, [...values]);
}
