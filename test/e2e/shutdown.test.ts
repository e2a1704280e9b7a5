import { request as httpsRequest } from "node:https";
import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import { get, post, type Endpoint, type JsonObject } from "../support/http.js";
import { makeReport, POLICY_REPORT, resourcePath, uniqueName } from "../support/reports.js";
import { startServer } from "../support/server.js";
import { h2Client, halfSent } from "./support/held.js";
import { metric, sleep, until } from "./support/poll.js";

/**
 * SIGTERM as a rolling update sends it: /readyz fails at once so the endpoint is taken out of
 * rotation, requests are still served for --shutdown-delay-duration, then the server stops
 * accepting, ends watches cleanly (clients re-watch elsewhere), lets in-flight requests finish and
 * exits 0.
 */

/** Waits until the server counts a write in flight: SIGTERM must find it there. */
async function heldInFlight(ep: Endpoint): Promise<void> {
  await until("the held write counted in flight", 5_000, async () =>
    (await metric(ep, "apiserver_current_inflight_requests", { request_kind: "mutating" })) >= 1
      ? true
      : undefined,
  );
}

/** An HTTP/1.1 watch on its own connection that tells a clean end of the stream from a broken one. */
function rawWatch(ep: Endpoint, path: string) {
  const names: string[] = [];
  let status = 0;
  const outcome = new Promise<{ how: "end" | "broken"; at: number }>((resolve) => {
    const req = httpsRequest(new URL(path, ep.url), {
      ca: ep.ca,
      agent: false,
      headers: { Authorization: `Bearer ${ep.token}` },
    });
    req.on("error", () => resolve({ how: "broken", at: Date.now() }));
    req.on("response", (res) => {
      status = res.statusCode ?? 0;
      let buf = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        buf += c;
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const ev = JSON.parse(buf.slice(0, nl)) as { type: string; object: JsonObject };
          buf = buf.slice(nl + 1);
          names.push(`${ev.type} ${String((ev.object.metadata as JsonObject | undefined)?.name)}`);
        }
      });
      res.on("end", () => resolve({ how: buf === "" ? "end" : "broken", at: Date.now() }));
      res.on("aborted", () => resolve({ how: "broken", at: Date.now() }));
      res.on("error", () => resolve({ how: "broken", at: Date.now() }));
    });
    req.end();
  });
  return { status: () => status, names, outcome };
}

describe("SIGTERM: graceful shutdown", () => {
  it("fails /readyz first, serves through the delay, ends watches cleanly, finishes in-flight work, exits 0", async () => {
    // a delay long enough that the checks made during it fit on a loaded machine
    const srv = await startServer({ backend: "memory", args: ["--shutdown-delay-duration=5s"] });
    const h2 = h2Client(srv);
    try {
      const ns = uniqueName("shutdown");
      const list = resourcePath(POLICY_REPORT, ns);
      expect((await post(srv, list, makeReport(POLICY_REPORT, { name: "before" }))).status).toBe(201);
      const w1 = rawWatch(srv, `${list}?watch=true`);
      const w2 = h2.get(`${list}?watch=true`);
      expect(await w2.status).toBe(200);
      const w2Body = w2.resume();
      await until("the HTTP/1.1 watch opened", 5_000, async () =>
        w1.names.includes("ADDED before") ? true : undefined,
      );
      // A write whose body is still on its way when SIGTERM arrives.
      const inflight = halfSent(srv, "POST", list, makeReport(POLICY_REPORT, { name: "in-flight" }));
      await heldInFlight(srv);

      const sigterm = Date.now();
      process.kill(srv.pid!, "SIGTERM");

      // /readyz fails at once; liveness does not.
      const ready = await until("/readyz failing", 2_000, async () => {
        const r = await get(srv, "/readyz?verbose", { token: null });
        return r.status === 500 ? r : undefined;
      });
      expect(ready.body).toContain("[-]shutdown failed");
      expect(Date.now() - sigterm).toBeLessThan(2_000);
      expect((await get(srv, "/livez", { token: null })).status).toBe(200);

      // During the delay the server still serves reads, writes, and its watches.
      expect((await get(srv, list)).status).toBe(200);
      expect((await post(srv, list, makeReport(POLICY_REPORT, { name: "during-delay" }))).status).toBe(201);
      await until("the watches seeing the write made during the delay", 5_000, async () =>
        w1.names.includes("ADDED during-delay") ? true : undefined,
      );
      expect(Date.now() - sigterm).toBeLessThan(5_000);

      // After the delay, watches end cleanly: the stream is closed, not broken.
      const end1 = await w1.outcome;
      expect(end1.how).toBe("end");
      expect(end1.at - sigterm).toBeGreaterThanOrEqual(5_000);
      const body2 = await w2Body;
      expect(body2).toContain('"name":"during-delay"');

      // The server no longer accepts connections...
      const refused = await new Promise<string>((resolve) => {
        const s = connect(srv.port, "127.0.0.1", () => {
          s.destroy();
          resolve("connected");
        });
        s.on("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      });
      expect(refused).toBe("ECONNREFUSED");
      // ...but the request in flight is finished.
      inflight.finish();
      const done = await inflight.response;
      expect(done.status, done.body).toBe(201);

      const finished = Date.now();
      const exit = await until("the process exiting", 10_000, async () => srv.exitStatus());
      expect(exit).toBe(0);
      // Nothing is left to wait for once the last request is done: no idle connection holds the exit.
      expect(Date.now() - finished).toBeLessThan(3_000);
      expect(Date.now() - sigterm).toBeLessThan(12_000);
      expect(srv.logs()).toContain('"msg":"stopped"');
    } finally {
      h2.close();
      await srv.stop();
    }
  }, 60_000);

  it("lets a request in flight finish even when it needs longer than a few seconds (up to --request-timeout)", async () => {
    const srv = await startServer({ backend: "memory", args: ["--request-timeout=20s"] });
    try {
      const list = resourcePath(POLICY_REPORT, uniqueName("shutdown-slow"));
      const inflight = halfSent(srv, "POST", list, makeReport(POLICY_REPORT, { name: "slow" }));
      await heldInFlight(srv);
      const sigterm = Date.now();
      process.kill(srv.pid!, "SIGTERM");
      await sleep(7_000);
      expect(srv.exitStatus()).toBeUndefined();
      inflight.finish();
      const done = await inflight.response;
      expect(done.status, done.body).toBe(201);
      const exit = await until("the process exiting", 5_000, async () => srv.exitStatus());
      expect(exit).toBe(0);
      expect(Date.now() - sigterm).toBeLessThan(12_000);
    } finally {
      await srv.stop();
    }
  }, 60_000);
});
