import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { connect, type ClientHttp2Session } from "node:http2";
import { Agent, request as httpsRequest } from "node:https";
import { connect as tlsConnect } from "node:tls";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeTestPki, type CertPair, type TestPki } from "../support/certs.js";
import { startServer, type TestServer } from "../support/server.js";

/**
 * Standalone mode with the CA flags: the front proxy's identity headers and client certificates
 * authenticate as they do in a cluster, over connections that carry many requests each (HTTP/2, as
 * the aggregator and client-go send them), and the admin token still works.
 */
describe("standalone mode with --requestheader-client-ca-file and --client-ca-file", () => {
  let pki: TestPki;
  let dir: string;
  let server: TestServer;
  const sessions: ClientHttp2Session[] = [];
  let seq = 0;

  beforeAll(async () => {
    pki = await makeTestPki();
    dir = mkdtempSync(join(tmpdir(), "standalone-auth-"));
    writeFileSync(join(dir, "front-proxy-ca.crt"), pki.requestHeaderCa.cert);
    writeFileSync(join(dir, "client-ca.crt"), pki.clientCa.cert);
    server = await startServer({
      backend: "memory",
      args: [
        `--requestheader-client-ca-file=${join(dir, "front-proxy-ca.crt")}`,
        "--requestheader-allowed-names=front-proxy-client",
        `--client-ca-file=${join(dir, "client-ca.crt")}`,
        "--log-level=debug",
      ],
    });
  });
  afterAll(async () => {
    for (const s of sessions) s.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function session(cert?: CertPair): ClientHttp2Session {
    const s = connect(server.url, { ca: server.ca, cert: cert?.cert, key: cert?.key });
    s.on("error", () => {});
    sessions.push(s);
    return s;
  }

  /** The status of a GET, and the user the server's request log names for it. */
  async function whoAmI(s: ClientHttp2Session, headers: Record<string, string> = {}) {
    const id = `standalone-auth-${++seq}`;
    const status = await new Promise<number>((resolve, reject) => {
      const req = s.request({
        ":path": "/apis/wgpolicyk8s.io/v1alpha2/policyreports",
        "x-request-id": id,
        ...headers,
      });
      let code = 0;
      req.on("response", (h) => (code = Number(h[":status"])));
      req.on("data", () => {});
      req.on("end", () => resolve(code));
      req.on("error", reject);
      req.end();
    });
    let user: unknown;
    for (let waited = 0; waited < 5_000 && user === undefined; waited += 50) {
      const line = server
        .logs()
        .split("\n")
        .find((l) => l.includes(`"requestId":"${id}"`));
      if (line) user = (JSON.parse(line) as { user?: string }).user ?? null;
      else await new Promise((r) => setTimeout(r, 50));
    }
    return { status, user };
  }

  it("authenticates each connection as its own certificate says, request after request", async () => {
    const proxy = session(pki.proxyClient);
    const alice = session(pki.userCert);
    const stranger = session(pki.proxyClientWrongCa);
    const bob = { "x-remote-user": "bob", "x-remote-group": "team-a" };
    for (let round = 0; round < 3; round++) {
      expect(await whoAmI(proxy, bob)).toEqual({ status: 200, user: "bob" });
      // the proxy's certificate without a user header is nobody
      expect((await whoAmI(proxy)).status).toBe(401);
      // a user's certificate is that user, whatever identity headers it sends
      expect(await whoAmI(alice, { "x-remote-user": "mallory" })).toEqual({ status: 200, user: "alice" });
      expect((await whoAmI(stranger, bob)).status).toBe(401);
    }
  });

  it("still takes the admin token, and a proxy from an untrusted CA does not stop it", async () => {
    const token = { authorization: `Bearer ${server.token}` };
    expect(await whoAmI(session(), token)).toEqual({ status: 200, user: "admin" });
    expect(await whoAmI(session(pki.proxyClientWrongCn), { ...token, "x-remote-user": "bob" })).toEqual({
      status: 200,
      user: "admin",
    });
    expect((await whoAmI(session(), { authorization: "Bearer wrong" })).status).toBe(401);
  });

  it("keeps each HTTP/1.1 connection's certificate apart too", async () => {
    const agent = (cert: CertPair) =>
      new Agent({ keepAlive: true, maxSockets: 1, ca: server.ca, cert: cert.cert, key: cert.key });
    const get = (a: Agent, headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const url = new URL("/apis/wgpolicyk8s.io/v1alpha2/policyreports", server.url);
        const req = httpsRequest(url, { agent: a, headers }, (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        });
        req.on("error", reject);
        req.end();
      });
    const proxy = agent(pki.proxyClient);
    const alice = agent(pki.userCert);
    try {
      for (let i = 0; i < 3; i++) {
        expect(await get(proxy, { "x-remote-user": "bob" })).toBe(200);
        expect(await get(proxy, {})).toBe(401);
        expect(await get(alice, {})).toBe(200);
      }
    } finally {
      proxy.destroy();
      alice.destroy();
    }
  });

  it("refuses to renegotiate, so a connection cannot change its certificate", async () => {
    const socket = tlsConnect({
      host: "127.0.0.1",
      port: server.port,
      ca: server.ca,
      cert: pki.userCert.cert,
      key: pki.userCert.key,
      maxVersion: "TLSv1.2",
      servername: "localhost",
    });
    await new Promise<void>((resolve, reject) => {
      socket.once("secureConnect", resolve);
      socket.once("error", reject);
    });
    socket.resume();
    const ended = new Promise<string>((resolve) => {
      socket.once("error", (err) => resolve(`error: ${err.message}`));
      socket.once("close", () => resolve("closed"));
      setTimeout(() => resolve("still open"), 5_000).unref();
    });
    socket.renegotiate({ rejectUnauthorized: false }, () => {});
    expect(await ended).not.toBe("still open");
    expect(socket.destroyed).toBe(true);
    socket.destroy();
  });
});
