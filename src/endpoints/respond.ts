import { gzipSync } from "node:zlib";
import { stringify as toYaml } from "yaml";
import { PlainTextError, toStatusError } from "../apimachinery/status.js";
import type { RequestContext, Res } from "./context.js";
import type { Encoding } from "./negotiate.js";
import { toJson } from "../storage/encoded.js";

// kube-apiserver compresses responses larger than this when the client accepts gzip.
const GZIP_THRESHOLD = 128 * 1024;

/** k8s.io/apiserver's warning recorder limits (endpoints/filters/warning.go). */
const TRUNCATE_AT_TOTAL_RUNES = 4 * 1024;
const TRUNCATE_ITEM_RUNES = 256;

const runes = (s: string): number => [...s].length;
const cut = (s: string): string => [...s].slice(0, TRUNCATE_ITEM_RUNES).join("");

/**
 * The warnings a response carries, as the recorder keeps them: each text once, in order; once they
 * pass 4,096 runes in all, every one is cut to 256 runes, and after 4,096 runes of those the rest
 * are dropped, so that thousands of unknown fields cannot make a header no client can read.
 */
export function recordedWarnings(warnings: string[]): string[] {
  const ordered: string[] = [];
  const seen = new Set<string>();
  let out: string[] = [];
  let written = 0;
  let truncating = false;
  for (const text of warnings) {
    if (truncating && written >= TRUNCATE_AT_TOTAL_RUNES) break;
    if (seen.has(text)) continue;
    seen.add(text);
    ordered.push(text);
    let t = text;
    let n = runes(t);
    if (truncating && n > TRUNCATE_ITEM_RUNES) [t, n] = [cut(t), TRUNCATE_ITEM_RUNES];
    if (truncating || written + n <= TRUNCATE_AT_TOTAL_RUNES) {
      written += n;
      out.push(t);
      continue;
    }
    // over the limit: start again with every warning so far cut short
    truncating = true;
    out = ordered.map((w) => (runes(w) > TRUNCATE_ITEM_RUNES ? cut(w) : w));
    written = out.reduce((sum, w) => sum + runes(w), 0);
  }
  return out;
}

/** `Warning: 299 - "<text>"`, one header value per recorded warning, as warning.go writes them. */
export function warningHeaders(warnings: string[]): string[] {
  // Go writes the text as raw UTF-8 bytes; Node's headers take Latin-1 strings, so pass the bytes
  // through that way rather than fail the response on a non-Latin-1 field name.
  return recordedWarnings(warnings).map((w) =>
    Buffer.from(`299 - ${JSON.stringify(w)}`, "utf8").toString("latin1"),
  );
}

function setWarnings(res: Res, warnings: string[]): void {
  if (warnings.length > 0 && !res.headersSent) res.setHeader("Warning", warningHeaders(warnings));
}

export function encode(value: unknown, encoding: Encoding): string {
  return encoding === "yaml" ? toYaml(value) : toJson(value);
}

export function writeBody(
  ctx: RequestContext,
  code: number,
  body: string | Buffer,
  contentType: string,
): void {
  const { res } = ctx;
  if (res.headersSent) {
    res.end();
    return;
  }
  setWarnings(res, ctx.warnings);
  res.setHeader("Content-Type", contentType);
  // On HTTP/2 a string goes to the stream as it is, not copied into a Buffer first (an allocation
  // and a copy of every answer). HTTP/1.1 sends headers and a string body as one string encoded as
  // UTF-8, which would mangle the Latin-1 bytes of a Warning header: it gets bytes.
  let data = typeof body === "string" && ctx.req.httpVersionMajor !== 2 ? Buffer.from(body) : body;
  let length = typeof data === "string" ? Buffer.byteLength(data) : data.length;
  if (length > GZIP_THRESHOLD && /\bgzip\b/.test(String(ctx.req.headers["accept-encoding"] ?? ""))) {
    data = gzipSync(data, { level: 1 });
    length = data.length;
    res.setHeader("Content-Encoding", "gzip");
    res.setHeader("Vary", "Accept-Encoding");
  }
  res.setHeader("Content-Length", length);
  res.statusCode = code;
  res.end(ctx.method === "HEAD" ? undefined : data);
}

export function writeObject(
  ctx: RequestContext,
  code: number,
  value: unknown,
  encoding: Encoding,
  contentType: string,
): void {
  writeBody(ctx, code, encode(value, encoding), contentType);
}

/** The one place errors become responses: a Status, in JSON, with the error's code. */
export function writeError(ctx: RequestContext, err: unknown): void {
  const se = toStatusError(err);
  ctx.warnings = [];
  const status = se.toStatus();
  ctx.log.error = se.code >= 500 && !(err instanceof Error && err.name === "StatusError") ? err : undefined;
  ctx.log.reason = se.reason;
  // A response already under way cannot become a Status: reset it, as kube-apiserver does, so the
  // client sees a failure rather than a truncated body that looks complete.
  if (ctx.res.headersSent) {
    if (!ctx.res.writableEnded) ctx.res.destroy();
    return;
  }
  if (se instanceof PlainTextError) {
    // http.Error: text, a newline, and no sniffing of it as anything else
    ctx.res.setHeader("X-Content-Type-Options", "nosniff");
    writeBody(ctx, se.code, `${se.message}\n`, "text/plain; charset=utf-8");
    return;
  }
  const retry = se.details?.retryAfterSeconds;
  if (retry && (se.code === 429 || se.code === 503 || se.code === 504))
    ctx.res.setHeader("Retry-After", String(retry));
  writeBody(ctx, se.code, JSON.stringify(status), "application/json");
}
