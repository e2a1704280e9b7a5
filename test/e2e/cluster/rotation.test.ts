import { beforeAll, describe, expect, it } from "vitest";
import { makeCa } from "../../support/certs.js";
import {
  authnConfigMapData,
  call,
  eventually,
  useClusterServer,
  type ClusterServer,
  type StandIn,
} from "./support.js";

const LIST_TEAM_A = "/apis/wgpolicyk8s.io/v1alpha2/namespaces/team-a/policyreports";

describe("cluster mode: CA rotation in extension-apiserver-authentication, without a restart", () => {
  let standIn: StandIn;
  let server: ClusterServer;
  const fx = useClusterServer((s) => {
    standIn = s;
    standIn.fake.authorize = () => ({ allowed: true });
  });
  beforeAll(() => {
    server = fx.server();
  });

  it("certificates of the new requestheader and client CAs are accepted, those of the old ones refused", async () => {
    const { pki } = standIn;
    const frontProxy = (cert: typeof pki.proxyClient) =>
      call(server, LIST_TEAM_A, { cert, headers: { "X-Remote-User": "carol", "X-Remote-Group": "team-a" } });

    // Before: the old CAs work.
    expect((await frontProxy(pki.proxyClient)).status).toBe(200);
    expect((await call(server, LIST_TEAM_A, { cert: pki.userCert })).status).toBe(200);

    const [newFrontProxyCa, newClientCa] = await Promise.all([
      makeCa("front-proxy-ca-2"),
      makeCa("kubernetes-client-ca-2"),
    ]);
    const newProxyClient = await newFrontProxyCa.issue({ cn: "front-proxy-client" });
    const newUser = await newClientCa.issue({ cn: "alice", organizations: ["team-a"] });
    // The new proxy certificate is not trusted yet.
    expect((await frontProxy(newProxyClient)).status).toBe(401);

    standIn.setAuthnConfigMap(authnConfigMapData(newFrontProxyCa.cert, newClientCa.cert));

    await eventually("the new front-proxy CA is trusted", 10_000, async () =>
      (await frontProxy(newProxyClient)).status === 200 ? true : undefined,
    );
    expect((await call(server, LIST_TEAM_A, { cert: newUser })).status).toBe(200);
    expect((await frontProxy(pki.proxyClient)).status).toBe(401);
    expect((await call(server, LIST_TEAM_A, { cert: pki.userCert })).status).toBe(401);
    expect(server.exited()).toBe(false);
  });

  it("a bundle of old and new CA (the overlap of a rotation) accepts both", async () => {
    const { pki } = standIn;
    const next = await makeCa("front-proxy-ca-3");
    const nextProxy = await next.issue({ cn: "front-proxy-client" });
    standIn.setAuthnConfigMap(
      authnConfigMapData(`${pki.requestHeaderCa.cert}${next.cert}`, pki.clientCa.cert),
    );
    const headers = { "X-Remote-User": "carol" };
    await eventually("the bundle is trusted", 10_000, async () =>
      (await call(server, LIST_TEAM_A, { cert: nextProxy, headers })).status === 200 ? true : undefined,
    );
    expect((await call(server, LIST_TEAM_A, { cert: pki.proxyClient, headers })).status).toBe(200);
    expect((await call(server, LIST_TEAM_A, { cert: pki.userCert })).status).toBe(200);
  });
});
