import type { RequestContext } from "../endpoints/context.js";
import type { Route } from "../endpoints/router.js";
import { goQuote } from "../apimachinery/go-format.js";

/** A named check for /readyz (or /livez); it throws to fail. */
export interface HealthCheck {
  name: string;
  check(): Promise<void>;
}

const TEXT = "text/plain; charset=utf-8";

/** Go's http.Error: text/plain, nosniff, the message and a newline. */
function httpError(ctx: RequestContext, code: number, message: string): void {
  ctx.res.statusCode = code;
  ctx.res.setHeader("Content-Type", TEXT);
  ctx.res.setHeader("X-Content-Type-Options", "nosniff");
  ctx.res.end(`${message}\n`);
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * `/<name>` as k8s.io/apiserver healthz's handleRootHealth: `ok`, or with `?verbose` one line per
 * check; on a failure always verbose and 500, the reasons withheld (the path is public) but logged.
 */
async function handleRoot(ctx: RequestContext, name: string, checks: HealthCheck[]): Promise<void> {
  const excluded = new Set(ctx.query.getAll("exclude"));
  let out = "";
  const failed: string[] = [];
  for (const c of checks) {
    if (excluded.delete(c.name)) {
      out += `[+]${c.name} excluded: ok\n`;
      continue;
    }
    try {
      await c.check();
      out += `[+]${c.name} ok\n`;
    } catch (err) {
      out += `[-]${c.name} failed: reason withheld\n`;
      failed.push(`${c.name}: ${reason(err)}`);
    }
  }
  if (excluded.size > 0) {
    // sets.String's List() is sorted.
    const names = [...excluded].sort().map(goQuote).join(",");
    out += `warn: some health checks cannot be excluded: no matches for ${names}\n`;
  }
  if (failed.length > 0) {
    ctx.log.healthFailure = failed.join("; ");
    httpError(ctx, 500, `${out}${name} check failed`);
    return;
  }
  ctx.res.statusCode = 200;
  ctx.res.setHeader("Content-Type", TEXT);
  ctx.res.setHeader("X-Content-Type-Options", "nosniff");
  ctx.res.end(ctx.query.has("verbose") ? `${out}${name} check passed\n` : "ok");
}

/**
 * `/<name>/<check>` as healthz's adaptCheckToHandler. kube-apiserver prints the error there because
 * only users allowed `/readyz/*` may ask (system:public-info-viewer grants the bare paths alone), as
 * in cluster mode here; where the sub-paths are public (standalone: nobody was authenticated), the
 * reason is withheld as the root withholds it. It is logged either way.
 */
async function handleOne(ctx: RequestContext, check: HealthCheck): Promise<void> {
  try {
    await check.check();
  } catch (err) {
    ctx.log.healthFailure = `${check.name}: ${reason(err)}`;
    httpError(ctx, 500, `internal server error: ${ctx.user ? reason(err) : "reason withheld"}`);
    return;
  }
  ctx.res.statusCode = 200;
  // What Go's content sniffing makes of `ok`; this handler sets no headers of its own.
  ctx.res.setHeader("Content-Type", TEXT);
  ctx.res.end("ok");
}

/**
 * The routes of each health path (`livez`, `readyz`, `healthz`) as healthz.InstallPathHandler
 * registers them: the path itself and `<path>/<check>` for each check; any other sub-path (a trailing
 * slash included) is Go's http.NotFound.
 */
export function healthRoutes(paths: Record<string, HealthCheck[]>): Map<string, Route> {
  const routes = new Map<string, Route>();
  for (const [name, checks] of Object.entries(paths)) {
    const byName = new Map(checks.map((c) => [c.name, c]));
    const root = `/${name}`;
    routes.set(root, (ctx) => handleRoot(ctx, name, checks));
    routes.set(`${root}/`, async (ctx) => {
      const check = byName.get(ctx.path.slice(root.length + 1));
      if (check) return handleOne(ctx, check);
      httpError(ctx, 404, "404 page not found");
    });
  }
  return routes;
}
