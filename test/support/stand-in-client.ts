import { afterAll, beforeAll } from "vitest";
import { KubeClient } from "../../src/cluster/kubeclient.js";
import { makeTestPki, type TestPki } from "./certs.js";
import { FakeKubeApiServer } from "./fake-kube-apiserver.js";

/** The stand-in kube-apiserver and a client of it, for a file of tests (valid inside the tests). */
export interface StandInClient {
  pki: TestPki;
  fake: FakeKubeApiServer;
  client: KubeClient;
}

/** Registers beforeAll/afterAll that start the stand-in with its own PKI and a client, and stop both. */
export function useStandInClient(): StandInClient {
  const fx = {} as StandInClient;
  beforeAll(async () => {
    fx.pki = await makeTestPki();
    fx.fake = await new FakeKubeApiServer({ serving: fx.pki.serving }).start();
    fx.client = new KubeClient(fx.fake.connection(fx.pki.servingCa.cert));
  });
  afterAll(async () => {
    fx.client?.close();
    await fx.fake?.stop();
  });
  return fx;
}
