import { requestEntityTooLarge } from "../apimachinery/status.js";
import type { Req } from "../endpoints/context.js";

/** kube-apiserver's limit on request bodies. */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

/**
 * Calls back once when the request ends early (timeout, shutdown, client gone); at once if it already
 * has. A plain callback, not an AbortSignal: every write reads a body, and an AbortController with a
 * listener per request cost about as much as reading the body itself.
 */
export type OnAbort = (callback: () => void) => void;

/** Reads the body, refusing (413) as soon as it is known to be too large rather than after buffering it. */
export function readBody(req: Req, onAbort?: OnAbort, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) {
    req.resume();
    return Promise.reject(tooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    // Every request ends by calling back onAbort, most after their body was read: an Error made
    // there for a promise already settled cost 2 % of a write's CPU.
    let settled = false;
    // A body that never completes must not hold its handler (and its in-flight slot) past the
    // request's end: the timeout aborts the request, and the wait ends with it.
    onAbort?.(() => {
      if (settled) return;
      settled = true;
      reject(new Error("request aborted"));
    });
    if (settled) return;
    req.on("data", (c: Buffer) => {
      if (settled) return;
      size += c.length;
      if (size > limit) {
        settled = true;
        reject(tooLarge(limit));
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (settled) return;
      settled = true;
      resolve(Buffer.concat(chunks));
    });
    req.on("error", (err) => {
      if (!settled) reject(err);
    });
  });
}

/** limitedReadBody's words. */
function tooLarge(limit: number) {
  return requestEntityTooLarge(`Request entity too large: limit is ${limit}`);
}
