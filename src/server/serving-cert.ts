import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createCA, loadCA, type KeyPairPem } from "./certs.js";

export interface ServingCert extends KeyPairPem {
  /** The CA that signed it: what clients (kubeconfig, APIService caBundle) must trust. */
  caCert: string;
}

/**
 * Without --tls-cert-file, a CA and a serving certificate are generated in the cert dir (and reused
 * next time), as kube-apiserver's self-signed mode does, but with a CA so the caBundle stays stable.
 */
export async function selfSignedServingCert(
  certDir: string,
  hosts: { dns: string[]; ips: string[] },
): Promise<ServingCert> {
  mkdirSync(certDir, { recursive: true });
  const f = (n: string) => join(certDir, n);
  let caPem: KeyPairPem;
  if (existsSync(f("ca.crt")) && existsSync(f("ca.key"))) {
    caPem = { cert: readFileSync(f("ca.crt"), "utf8"), key: readFileSync(f("ca.key"), "utf8") };
  } else {
    const ca = await createCA(`reports-server-ca@${Math.floor(Date.now() / 1000)}`);
    caPem = { cert: ca.cert, key: ca.key };
    writeFileSync(f("ca.key"), ca.key, { mode: 0o600 });
    writeFileSync(f("ca.crt"), ca.cert);
  }
  const wanted = JSON.stringify(hosts);
  if (existsSync(f("apiserver.crt")) && existsSync(f("apiserver.key")) && existsSync(f("apiserver.hosts"))) {
    if (readFileSync(f("apiserver.hosts"), "utf8") === wanted) {
      return {
        cert: readFileSync(f("apiserver.crt"), "utf8"),
        key: readFileSync(f("apiserver.key"), "utf8"),
        caCert: caPem.cert,
      };
    }
  }
  const ca = await loadCA(caPem);
  const leaf = await ca.sign({
    commonName: "reports-server",
    dnsNames: hosts.dns,
    ipAddresses: hosts.ips,
    usage: "server",
  });
  writeFileSync(f("apiserver.key"), leaf.key, { mode: 0o600 });
  writeFileSync(f("apiserver.crt"), leaf.cert);
  writeFileSync(f("apiserver.hosts"), wanted);
  return { ...leaf, caCert: caPem.cert };
}
