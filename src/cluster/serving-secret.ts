import { createPrivateKey, X509Certificate } from "node:crypto";
import type { KubeObject } from "../apimachinery/types.js";
import { createCA, loadCA, type KeyPairPem } from "../server/certs.js";
import type { ServingCert } from "../server/serving-cert.js";
import { isKubeApiError, type KubeClient } from "./kubeclient.js";
import { silentLog, type ClusterLog } from "./log.js";

/**
 * Without --tls-cert-file in a cluster, the replicas share one self-signed CA and serving certificate
 * through a Secret in their namespace. Each generating its own would leave every replica but the
 * leader untrusted by the APIServices' one caBundle: during a rolling update the new pod answers
 * requests the aggregator refuses (503) until it leads and rewrites the caBundle.
 *
 * The first replica creates the Secret; one that loses that race reads the winner's. A certificate
 * for other hosts, or one within 30 days of expiry, is replaced with a new one signed by the same CA,
 * so the caBundle stays; only a CA that is unusable or itself expiring is replaced. Replicas check
 * again periodically (main.ts), so a running pod picks up a renewal.
 */

export interface SharedServingCertOptions {
  namespace: string;
  name: string;
  hosts: { dns: string[]; ips: string[] };
  log?: ClusterLog;
  /** For tests: the time against which expiry is judged. */
  now?: () => Date;
}

type Secret = KubeObject & { type?: string; data?: Record<string, string> };

const HOSTS_ANNOTATION = "reports-server.kyverno.io/serving-hosts";
const RENEW_BEFORE_MS = 30 * 86_400_000;

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: string | undefined) => (s ? Buffer.from(s, "base64").toString("utf8") : "");

interface Stored {
  ca: KeyPairPem;
  leaf: KeyPairPem;
  hosts: string;
}

function read(secret: Secret): Stored | undefined {
  const d = secret.data ?? {};
  const stored = {
    ca: { cert: unb64(d["ca.crt"]), key: unb64(d["ca.key"]) },
    leaf: { cert: unb64(d["tls.crt"]), key: unb64(d["tls.key"]) },
    hosts: secret.metadata.annotations?.[HOSTS_ANNOTATION] ?? "",
  };
  return stored.ca.cert && stored.ca.key && stored.leaf.cert && stored.leaf.key ? stored : undefined;
}

/** Whether a CA's certificate parses, its key is its own, and it lives past the horizon. */
function goodCa(ca: KeyPairPem, horizon: number): boolean {
  try {
    const cert = new X509Certificate(ca.cert);
    return cert.checkPrivateKey(createPrivateKey(ca.key)) && Date.parse(cert.validTo) > horizon;
  } catch {
    return false;
  }
}

/**
 * Whether the stored certificate serves these hosts, is signed by the stored CA with its own key,
 * and neither is about to expire. Anything malformed is not good: it is replaced, never served. Pure.
 */
export function stillGood(stored: Stored, hosts: string, now: Date): boolean {
  if (stored.hosts !== hosts) return false;
  const horizon = now.getTime() + RENEW_BEFORE_MS;
  if (!goodCa(stored.ca, horizon)) return false;
  try {
    const leaf = new X509Certificate(stored.leaf.cert);
    return (
      leaf.checkPrivateKey(createPrivateKey(stored.leaf.key)) &&
      leaf.verify(new X509Certificate(stored.ca.cert).publicKey) &&
      Date.parse(leaf.validTo) > horizon
    );
  } catch {
    return false;
  }
}

async function issue(ca: KeyPairPem | undefined, hosts: SharedServingCertOptions["hosts"]): Promise<Stored> {
  const authority = ca
    ? await loadCA(ca)
    : await createCA(`reports-server-ca@${Math.floor(Date.now() / 1000)}`);
  const leaf = await authority.sign({
    commonName: "reports-server",
    dnsNames: hosts.dns,
    ipAddresses: hosts.ips,
    usage: "server",
  });
  return { ca: { cert: authority.cert, key: authority.key }, leaf, hosts: JSON.stringify(hosts) };
}

function secretOf(o: SharedServingCertOptions, s: Stored, base?: Secret): Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      ...(base?.metadata ?? {}),
      name: o.name,
      namespace: o.namespace,
      labels: { ...(base?.metadata.labels ?? {}), "app.kubernetes.io/name": "reports-server" },
      annotations: { ...(base?.metadata.annotations ?? {}), [HOSTS_ANNOTATION]: s.hosts },
    },
    // a Secret's type cannot change; a new one is a TLS Secret
    type: base?.type ?? "kubernetes.io/tls",
    data: {
      "tls.crt": b64(s.leaf.cert),
      "tls.key": b64(s.leaf.key),
      "ca.crt": b64(s.ca.cert),
      "ca.key": b64(s.ca.key),
    },
  };
}

const served = (s: Stored): ServingCert => ({ cert: s.leaf.cert, key: s.leaf.key, caCert: s.ca.cert });

export async function sharedServingCert(
  client: KubeClient,
  o: SharedServingCertOptions,
): Promise<ServingCert> {
  const log = o.log ?? silentLog;
  const path = `/api/v1/namespaces/${o.namespace}/secrets`;
  const hosts = JSON.stringify(o.hosts);
  // A replica that loses a race re-reads; three rounds are plenty for a handful of replicas.
  for (let round = 0; round < 3; round++) {
    let current: Secret | undefined;
    try {
      current = await client.get<Secret>(`${path}/${o.name}`);
    } catch (err) {
      if (!isKubeApiError(err, 404)) throw err;
    }
    const stored = current ? read(current) : undefined;
    const now = o.now?.() ?? new Date();
    if (stored && stillGood(stored, hosts, now)) return served(stored);
    if (
      current &&
      !current.metadata.annotations?.[HOSTS_ANNOTATION] &&
      Object.keys(current.data ?? {}).length > 0
    )
      throw new Error(
        `Secret ${o.namespace}/${o.name} exists and was not written by reports-server; not replacing it`,
      );
    // keep the CA (and so the APIServices' caBundle) when it is sound and good for 30 more days
    const keepCa = stored && goodCa(stored.ca, now.getTime() + RENEW_BEFORE_MS) ? stored.ca : undefined;
    if (stored && !keepCa)
      log.warn(
        { secret: `${o.namespace}/${o.name}` },
        "replacing the serving CA: the stored one is unusable or expiring",
      );
    const next = await issue(keepCa, o.hosts);
    try {
      if (current) await client.update(`${path}/${o.name}`, secretOf(o, next, current));
      else await client.create(path, secretOf(o, next));
      log.info(
        { secret: `${o.namespace}/${o.name}` },
        current ? "renewed the serving certificate" : "created the serving certificate",
      );
      return served(next);
    } catch (err) {
      // another replica wrote it first: use theirs
      if (!isKubeApiError(err, 409)) throw err;
    }
  }
  throw new Error(`could not settle the serving certificate in Secret ${o.namespace}/${o.name}`);
}
