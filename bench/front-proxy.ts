import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeCa } from "../test/support/certs.js";
import type { ClientIdentity } from "./client.js";

/**
 * `--auth front-proxy`: the load generator sends what the kube-apiserver aggregator sends, its
 * front-proxy client certificate on every connection and the user in X-Remote-* headers, instead of
 * a bearer token. The server trusts a fresh requestheader CA (standalone mode honours the flag).
 */
export interface FrontProxy {
  /** The server's flags that trust the proxy. */
  args: string[];
  identity: ClientIdentity;
  remove(): void;
}

export async function makeFrontProxy(): Promise<FrontProxy> {
  const ca = await makeCa("front-proxy-ca");
  const client = await ca.issue({ cn: "front-proxy-client" });
  const dir = mkdtempSync(join(tmpdir(), "reports-bench-front-proxy-"));
  const caFile = join(dir, "front-proxy-ca.crt");
  writeFileSync(caFile, ca.cert);
  return {
    args: [`--requestheader-client-ca-file=${caFile}`, "--requestheader-allowed-names=front-proxy-client"],
    identity: {
      cert: client.cert,
      key: client.key,
      headers: {
        "x-remote-user": "system:serviceaccount:kyverno:kyverno-reports-controller",
        "x-remote-group": "system:serviceaccounts",
      },
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
