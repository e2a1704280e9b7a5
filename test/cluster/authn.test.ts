import { describe, it, expect, beforeAll, afterAll, beforeEach } from "vitest";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { IncomingHttpHeaders } from "node:http";
import { createServer as createHttpsServer, request as httpsRequest, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import type { X509Certificate } from "node:crypto";
import { createAuthenticator, type ClusterAuthenticator } from "../../src/cluster/authn.js";
import { KubeClient } from "../../src/cluster/kubeclient.js";
import { readPeerCertificates } from "../../src/server/filters/auth.js";
import { StatusError } from "../../src/apimachinery/status.js";
import { makeTestPki, type CertPair, type TestPki } from "../support/certs.js";
import { CONFIGMAPS, FakeKubeApiServer } from "../support/fake-kube-apiserver.js";

const identity = {
  "x-remote-user": "bob",
  "x-remote-group": "team-a, system:authenticated",
  "x-remote-extra-scopes": "view",
  "x-remote-extra-acme.com%2fproject": "p1",
  "x-remote-uid": "uid-bob",
};

function req(headers: IncomingHttpHeaders, ...certs: CertPair[]) {
  return { headers, peerCertificates: certs.map((c) => c.x509) as X509Certificate[] };
}

async function rejected(p: Promise<unknown>): Promise<StatusError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StatusError);
  return err as StatusError;
}

describe("authentication from flags", () => {
  let pki: TestPki;
  let dir: string;
  let authn: ClusterAuthenticator;

  beforeAll(async () => {
    pki = await makeTestPki();
    dir = mkdtempSync(join(tmpdir(), "authn-"));
    writeFileSync(join(dir, "front-proxy-ca.crt"), pki.requestHeaderCa.cert);
    writeFileSync(join(dir, "client-ca.crt"), pki.clientCa.cert);
    authn = await createAuthenticator({
      flags: {
        requestheaderClientCaFile: join(dir, "front-proxy-ca.crt"),
        requestheaderAllowedNames: ["front-proxy-client"],
        requestheaderUidHeaders: ["X-Remote-Uid"],
        clientCaFile: join(dir, "client-ca.crt"),
      },
    });
  });
  afterAll(() => {
    authn.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("trusts X-Remote-* from the front proxy", async () => {
    const user = await authn.authenticate(req({ ...identity }, pki.proxyClient));
    expect(user).toEqual({
      name: "bob",
      uid: "uid-bob",
      groups: ["team-a", "system:authenticated"],
      extra: { scopes: ["view"], "acme.com/project": ["p1"] },
    });
  });

  it("keeps repeated group headers apart when the server passes arrays", async () => {
    const user = await authn.authenticate(
      req({ "x-remote-user": "bob", "x-remote-group": ["a, with comma", "b"] }, pki.proxyClient),
    );
    expect(user.groups).toEqual(["a, with comma", "b", "system:authenticated"]);
  });

  it("ignores the headers of a proxy certificate from the wrong CA (401)", async () => {
    const err = await rejected(authn.authenticate(req({ ...identity }, pki.proxyClientWrongCa)));
    expect(err.toStatus()).toMatchObject({ code: 401, reason: "Unauthorized", message: "Unauthorized" });
  });

  it("ignores the headers of a proxy certificate with a CN not allowed (401)", async () => {
    const err = await rejected(authn.authenticate(req({ ...identity }, pki.proxyClientWrongCn)));
    expect(err.code).toBe(401);
  });

  it("ignores X-Remote-* on a client-certificate request, and strips them", async () => {
    const headers: IncomingHttpHeaders = { ...identity, accept: "application/json" };
    const user = await authn.authenticate(req(headers, pki.userCert));
    expect(user).toEqual({ name: "alice", groups: ["team-a", "developers", "system:authenticated"] });
    authn.stripHeaders(headers);
    expect(headers).toEqual({ accept: "application/json" });
  });

  it("answers 401 to nothing, and to headers alone", async () => {
    expect((await rejected(authn.authenticate(req({})))).code).toBe(401);
    expect((await rejected(authn.authenticate(req({ ...identity })))).code).toBe(401);
  });

  it("makes requests without credentials anonymous only when asked, never those with bad ones", async () => {
    const anon = await createAuthenticator({
      flags: { clientCaFile: join(dir, "client-ca.crt") },
      anonymous: true,
    });
    try {
      expect(await anon.authenticate(req({ ...identity }))).toEqual({
        name: "system:anonymous",
        groups: ["system:unauthenticated"],
      });
      expect((await rejected(anon.authenticate(req({}, pki.proxyClientWrongCa)))).code).toBe(401);
      expect((await rejected(anon.authenticate(req({ authorization: "Bearer x" })))).code).toBe(401);
      // not a bearer token: no credential at all, as the bearer-token authenticator passes on it
      for (const authorization of ["Basic YWxpY2U6c2VjcmV0", "Bearer", "Bearer "]) {
        expect((await anon.authenticate(req({ authorization }))).name, authorization).toBe(
          "system:anonymous",
        );
      }
    } finally {
      anon.close();
    }
  });

  it("offers both CAs to the TLS server", () => {
    expect(authn.clientCAs()).toEqual([pki.requestHeaderCa.cert, pki.clientCa.cert]);
  });
});

describe("authentication against the kube-apiserver", () => {
  let pki: TestPki;
  let fake: FakeKubeApiServer;
  let client: KubeClient;

  beforeAll(async () => {
    pki = await makeTestPki();
    fake = await new FakeKubeApiServer({ serving: pki.serving, clientToken: "server-sa-token" }).start();
    client = new KubeClient(fake.connection(pki.servingCa.cert));
    fake.tokens.set("good-token", { name: "carol", uid: "u-1", groups: ["system:authenticated"] });
  });
  afterAll(async () => {
    client.close();
    await fake.stop();
  });
  beforeEach(() => {
    fake.tokenReviews.length = 0;
    fake.putObject(CONFIGMAPS, {
      metadata: { name: "extension-apiserver-authentication", namespace: "kube-system" },
      data: {
        "client-ca-file": pki.clientCa.cert,
        "requestheader-client-ca-file": pki.requestHeaderCa.cert,
        "requestheader-allowed-names": '["front-proxy-client"]',
        "requestheader-username-headers": '["X-Remote-User"]',
        "requestheader-group-headers": '["X-Remote-Group"]',
        "requestheader-extra-headers-prefix": '["X-Remote-Extra-"]',
      },
    });
  });

  it("reads trust from the ConfigMap and authenticates the front proxy and client certificates", async () => {
    const authn = await createAuthenticator({ client, reloadMs: 60_000 });
    try {
      expect((await authn.authenticate(req({ ...identity }, pki.proxyClient))).name).toBe("bob");
      // the ConfigMap names no uid headers: X-Remote-Uid is not trusted
      expect((await authn.authenticate(req({ ...identity }, pki.proxyClient))).uid).toBeUndefined();
      expect((await authn.authenticate(req({}, pki.userCert))).name).toBe("alice");
      expect((await rejected(authn.authenticate(req({ ...identity }, pki.proxyClientWrongCn)))).code).toBe(
        401,
      );
    } finally {
      authn.close();
    }
  });

  it("checks bearer tokens with a TokenReview and caches the answers", async () => {
    const authn = await createAuthenticator({ client, tokenCacheTtlMs: 60_000 });
    try {
      const good = { authorization: "Bearer good-token" };
      expect(await authn.authenticate(req(good))).toEqual({
        name: "carol",
        uid: "u-1",
        groups: ["system:authenticated"],
      });
      expect(await authn.authenticate(req(good))).toMatchObject({ name: "carol" });
      expect(fake.tokenReviews).toEqual(["good-token"]);

      const bad = { authorization: "Bearer stolen" };
      expect((await rejected(authn.authenticate(req(bad)))).code).toBe(401);
      expect((await rejected(authn.authenticate(req(bad)))).code).toBe(401);
      expect(fake.tokenReviews).toEqual(["good-token", "stolen"]);
    } finally {
      authn.close();
    }
  });

  it("expires cached tokens after the TTL, and does not cache a failed review", async () => {
    const authn = await createAuthenticator({ client, tokenCacheTtlMs: 100, tokenFailureCacheTtlMs: 100 });
    try {
      await authn.authenticate(req({ authorization: "Bearer good-token" }));
      await new Promise((r) => setTimeout(r, 150));
      await authn.authenticate(req({ authorization: "Bearer good-token" }));
      expect(fake.tokenReviews).toEqual(["good-token", "good-token"]);

      fake.failRequest = (_m, path) => (path.endsWith("/tokenreviews") ? 503 : undefined);
      fake.tokens.set("new-token", { name: "dave", groups: [] });
      expect((await rejected(authn.authenticate(req({ authorization: "Bearer new-token" })))).code).toBe(401);
      fake.failRequest = () => undefined;
      expect((await authn.authenticate(req({ authorization: "Bearer new-token" }))).name).toBe("dave");
    } finally {
      fake.failRequest = () => undefined;
      authn.close();
    }
  });

  it("a bad client certificate does not stop a good token", async () => {
    const authn = await createAuthenticator({ client });
    try {
      const user = await authn.authenticate(
        req({ authorization: "Bearer good-token" }, pki.proxyClientWrongCa),
      );
      expect(user.name).toBe("carol");
    } finally {
      authn.close();
    }
  });

  it("follows CA rotation in the ConfigMap without a restart", async () => {
    const authn = await createAuthenticator({ client });
    try {
      let changes = 0;
      authn.onChange(() => changes++);
      expect((await authn.authenticate(req({ ...identity }, pki.proxyClient))).name).toBe("bob");

      const rotated = await pki.wrongCa.issue({ cn: "front-proxy-client" });
      const cm = fake.getObject(CONFIGMAPS, "kube-system", "extension-apiserver-authentication");
      await client.update(`/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication`, {
        ...cm,
        data: { ...(cm?.data as Record<string, string>), "requestheader-client-ca-file": pki.wrongCa.cert },
      });
      await expect.poll(() => changes, { timeout: 5_000 }).toBe(1);
      expect(authn.clientCAs()).toEqual([pki.wrongCa.cert, pki.clientCa.cert]);
      expect((await authn.authenticate(req({ ...identity }, rotated))).name).toBe("bob");
      expect((await rejected(authn.authenticate(req({ ...identity }, pki.proxyClient)))).code).toBe(401);
    } finally {
      authn.close();
    }
  });

  it("refuses to start when the ConfigMap cannot be read, unless told to tolerate it", async () => {
    fake.failRequest = (_m, path) => (path.includes("/configmaps") ? 403 : undefined);
    try {
      await expect(createAuthenticator({ client })).rejects.toThrow(/extension-apiserver-authentication/);
      const authn = await createAuthenticator({ client, tolerateLookupFailure: true });
      authn.close();
    } finally {
      fake.failRequest = () => undefined;
    }
  });
});

describe("authentication over real TLS connections", () => {
  let pki: TestPki;
  let dir: string;
  let authn: ClusterAuthenticator;
  let server: Server;
  let port: number;
  let rotated = false;

  beforeAll(async () => {
    pki = await makeTestPki();
    dir = mkdtempSync(join(tmpdir(), "authn-tls-"));
    writeFileSync(join(dir, "front-proxy-ca.crt"), pki.requestHeaderCa.cert);
    writeFileSync(join(dir, "client-ca.crt"), pki.clientCa.cert);
    authn = await createAuthenticator({
      flags: {
        requestheaderClientCaFile: join(dir, "front-proxy-ca.crt"),
        requestheaderAllowedNames: ["front-proxy-client"],
        clientCaFile: join(dir, "client-ca.crt"),
      },
      reloadMs: 100,
    });
    const tlsOptions = () => ({ cert: pki.serving.cert, key: pki.serving.key, ca: authn.clientCAs() });
    // What the server does: ask for client certificates from the CAs authentication trusts, accept any.
    server = createHttpsServer(
      { ...tlsOptions(), requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        authn
          .authenticate({
            headers: req.headers,
            peerCertificates: readPeerCertificates(req.socket as TLSSocket),
          })
          .then(
            (user) => [200, user] as const,
            (err: StatusError) => [err.code, err.toStatus()] as const,
          )
          .then(([code, body]) => {
            res.writeHead(code, { "Content-Type": "application/json" });
            res.end(JSON.stringify(body));
          });
      },
    );
    authn.onChange(() => {
      rotated = true;
      server.setSecureContext(tlsOptions());
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    authn.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  function call(
    headers: Record<string, string>,
    client?: { cert: string; key: string },
  ): Promise<{ code: number; body: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        { host: "127.0.0.1", port, path: "/apis", headers, ca: pki.servingCa.cert, agent: false, ...client },
        (res) => {
          let text = "";
          res.on("data", (c: Buffer) => (text += c.toString()));
          res.on("end", () =>
            resolve({ code: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }),
          );
        },
      );
      req.on("error", reject);
      req.end();
    });
  }

  it("authenticates the front proxy, users with certificates and intermediates, and nobody else", async () => {
    const h = { "X-Remote-User": "bob", "X-Remote-Group": "team-a" };
    expect(await call(h, pki.proxyClient)).toEqual({
      code: 200,
      body: { name: "bob", groups: ["team-a", "system:authenticated"] },
    });
    expect((await call(h, pki.proxyClientWrongCa)).code).toBe(401);
    expect((await call(h, pki.proxyClientWrongCn)).code).toBe(401);
    expect(await call(h, pki.userCert)).toEqual({
      code: 200,
      body: { name: "alice", groups: ["team-a", "developers", "system:authenticated"] },
    });
    const inter = await pki.clientCa.issue({ cn: "team-intermediate", ca: true });
    const leaf = await inter.issue({ cn: "erin", organizations: ["ops"] });
    expect(await call({}, { cert: `${leaf.cert}\n${inter.cert}`, key: leaf.key })).toEqual({
      code: 200,
      body: { name: "erin", groups: ["ops", "system:authenticated"] },
    });
    expect(await call(h)).toMatchObject({
      code: 401,
      body: { kind: "Status", reason: "Unauthorized", code: 401 },
    });
  });

  it("applies a rotated requestheader CA file to new connections", async () => {
    const next = await pki.wrongCa.issue({ cn: "front-proxy-client" });
    writeFileSync(join(dir, "front-proxy-ca.crt"), pki.wrongCa.cert);
    await expect.poll(() => rotated, { timeout: 5_000 }).toBe(true);
    expect((await call({ "X-Remote-User": "bob" }, next)).body).toMatchObject({ name: "bob" });
    expect((await call({ "X-Remote-User": "bob" }, pki.proxyClient)).code).toBe(401);
  });
});
