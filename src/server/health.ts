import type { RequestContext } from "../endpoints/context.js";

/** A named check for /readyz (or /livez); it throws to fail. */
export interface HealthCheck {
  name: string;
  check(): Promise<void>;
}

/**
 * /livez, /readyz, /healthz as k8s.io/apiserver healthz: `ok` in text/plain, or 500 with
 * `[-]<check> failed: reason withheld`; `?verbose` lists every check; `?exclude=<name>` skips one.
 */
export async function handleHealth(ctx: RequestContext, checks: HealthCheck[]): Promise<void> {
  const exclude = new Set(ctx.query.getAll("exclude"));
  const verbose = ctx.query.has("verbose");
  const lines: string[] = [];
  let failed = false;
  // A single named check: /readyz/<name>.
  const sub = ctx.path.split("/")[2];
  for (const c of checks) {
    if (exclude.has(c.name) || (sub && sub !== c.name)) continue;
    try {
      await c.check();
      lines.push(`[+]${c.name} ok`);
    } catch (err) {
      failed = true;
      lines.push(`[-]${c.name} failed: reason withheld`);
      ctx.log.healthFailure = `${c.name}: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  const name = ctx.path.split("/")[1];
  let body: string;
  if (failed) body = `${lines.join("\n")}\n${name} check failed\n`;
  else body = verbose ? `${lines.join("\n")}\n${name} check passed\n` : "ok";
  ctx.res.statusCode = failed ? 500 : 200;
  ctx.res.setHeader("Content-Type", "text/plain; charset=utf-8");
  ctx.res.setHeader("X-Content-Type-Options", "nosniff");
  ctx.res.end(body);
}
