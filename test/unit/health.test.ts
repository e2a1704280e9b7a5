import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RequestContext } from "../../src/endpoints/context.js";
import { requestInfo } from "../../src/endpoints/requestinfo.js";
import { healthRoutes, type HealthCheck } from "../../src/server/health.js";

const passing = (name: string): HealthCheck => ({ name, check: async () => {} });

let healthy = true;
const readyChecks: HealthCheck[] = [
  passing("ping"),
  {
    name: "storage",
    check: async () => {
      if (!healthy) throw new Error("connect ECONNREFUSED 10.0.0.7:5432");
    },
  },
  passing("shutdown"),
];
const routes = healthRoutes({ livez: [passing("ping")], readyz: readyChecks });
const logs: Record<string, unknown>[] = [];

/** The routes behind a real HTTP server, found as the router finds extra paths: exactly, else by prefix. */
let server: Server;
let base: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const route =
      routes.get(url.pathname) ??
      [...routes].find(([p]) => p.endsWith("/") && url.pathname.startsWith(p))?.[1];
    const log: Record<string, unknown> = {};
    logs.push(log);
    const ctx: RequestContext = {
      req,
      res,
      method: req.method ?? "GET",
      path: url.pathname,
      query: url.searchParams,
      info: requestInfo(req.method ?? "GET", url.pathname, url.searchParams),
      signal: new AbortController().signal,
      abort: () => {},
      body: async () => Buffer.alloc(0),
      warnings: [],
      log,
    };
    // stands for the authentication filter: cluster mode authenticates health paths like any other
    const user = req.headers["x-test-user"];
    if (typeof user === "string") ctx.user = { name: user, groups: [] };
    if (!route) throw new Error(`no route for ${url.pathname}`);
    void route(ctx);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await fetch(base + path, { headers });
  return {
    status: res.status,
    body: await res.text(),
    type: res.headers.get("content-type"),
    nosniff: res.headers.get("x-content-type-options"),
  };
}

describe("health endpoints as k8s.io/apiserver healthz", () => {
  it("answers ok, or one line per check with ?verbose", async () => {
    healthy = true;
    expect(await get("/readyz")).toEqual({
      status: 200,
      body: "ok",
      type: "text/plain; charset=utf-8",
      nosniff: "nosniff",
    });
    expect((await get("/readyz?verbose")).body).toBe(
      "[+]ping ok\n[+]storage ok\n[+]shutdown ok\nreadyz check passed\n",
    );
  });

  it("prints excluded checks and warns, after the checks, of exclusions that match none (sorted, quoted)", async () => {
    healthy = true;
    const res = await get("/readyz?verbose&exclude=storage&exclude=zeta&exclude=alpha");
    expect(res.status).toBe(200);
    expect(res.body).toBe(
      "[+]ping ok\n[+]storage excluded: ok\n[+]shutdown ok\n" +
        'warn: some health checks cannot be excluded: no matches for "alpha","zeta"\n' +
        "readyz check passed\n",
    );
    // Without ?verbose the lines stay unsaid.
    expect((await get("/readyz?exclude=nothing")).body).toBe("ok");
  });

  it("fails with every line and the reason withheld from the body but logged", async () => {
    healthy = false;
    const res = await get("/readyz?exclude=nope");
    expect(res).toEqual({
      status: 500,
      body:
        "[+]ping ok\n[-]storage failed: reason withheld\n[+]shutdown ok\n" +
        'warn: some health checks cannot be excluded: no matches for "nope"\n' +
        "readyz check failed\n",
      type: "text/plain; charset=utf-8",
      nosniff: "nosniff",
    });
    expect(logs.at(-1)?.healthFailure).toBe("storage: connect ECONNREFUSED 10.0.0.7:5432");
    // An excluded failing check does not fail the probe.
    expect((await get("/readyz?exclude=storage")).status).toBe(200);
  });

  it("serves each check at <path>/<name>: ok, or 500 internal server error (reason withheld unless authenticated, logged)", async () => {
    healthy = true;
    expect(await get("/readyz/storage")).toEqual({
      status: 200,
      body: "ok",
      type: "text/plain; charset=utf-8",
      nosniff: null,
    });
    healthy = false;
    expect(await get("/readyz/storage?verbose")).toEqual({
      status: 500,
      body: "internal server error: reason withheld\n",
      type: "text/plain; charset=utf-8",
      nosniff: "nosniff",
    });
    expect(logs.at(-1)?.healthFailure).toBe("storage: connect ECONNREFUSED 10.0.0.7:5432");
    // an authenticated (and so authorized) caller is told why, as kube-apiserver tells it
    expect((await get("/readyz/storage", { "x-test-user": "prometheus" })).body).toBe(
      "internal server error: connect ECONNREFUSED 10.0.0.7:5432\n",
    );
    // Other checks answer on their own.
    expect((await get("/readyz/shutdown")).status).toBe(200);
    expect((await get("/livez/ping")).body).toBe("ok");
  });

  it("answers any other sub-path, a trailing slash included, with Go's plain 404", async () => {
    healthy = true;
    for (const p of ["/readyz/", "/readyz/nope", "/readyz/storage/", "/livez/storage", "/livez/ping/x"]) {
      expect(await get(p), p).toEqual({
        status: 404,
        body: "404 page not found\n",
        type: "text/plain; charset=utf-8",
        nosniff: "nosniff",
      });
    }
  });
});
