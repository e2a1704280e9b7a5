import "reflect-metadata";
import { X509Certificate, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

/**
 * Certificates for tests, made fresh in every run: certificate authorities and the leaf certificates
 * the aggregation layer, users and the kube-apiserver stand-in present.
 */

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
const DAY = 86_400_000;

export interface CertPair {
  /** PEM */
  cert: string;
  /** PEM, PKCS#8 */
  key: string;
  x509: X509Certificate;
}

export interface LeafOptions {
  cn: string;
  organizations?: string[];
  /** Extended key usages: client and/or server authentication (client only by default). */
  usages?: ("client" | "server")[];
  dnsNames?: string[];
  ips?: string[];
  notBefore?: Date;
  notAfter?: Date;
  /** Makes an intermediate CA instead of a leaf. */
  ca?: boolean;
}

export interface TestCa extends CertPair {
  issue(opts: LeafOptions): Promise<TestCa>;
}

function subject(cn: string, organizations: string[] = []): string {
  const esc = (v: string) => v.replace(/([,+"\\<>;=])/g, "\\$1");
  return [...organizations.map((o) => `O=${esc(o)}`), `CN=${esc(cn)}`].join(", ");
}

async function keys(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
}

async function pair(cert: x509.X509Certificate, k: webcrypto.CryptoKeyPair): Promise<CertPair> {
  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", k.privateKey as webcrypto.CryptoKey);
  const pem = cert.toString("pem");
  return { cert: pem, key: x509.PemConverter.encode(pkcs8, "PRIVATE KEY"), x509: new X509Certificate(pem) };
}

function withIssue(p: CertPair, k: webcrypto.CryptoKeyPair, parsed: x509.X509Certificate): TestCa {
  return {
    ...p,
    issue: async (opts) => {
      const leafKeys = await keys();
      const exts: x509.Extension[] = [
        await x509.SubjectKeyIdentifierExtension.create(leafKeys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(k.publicKey),
      ];
      if (opts.ca) {
        exts.push(new x509.BasicConstraintsExtension(true, undefined, true));
        exts.push(
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        );
      } else {
        exts.push(new x509.BasicConstraintsExtension(false, undefined, true));
        exts.push(new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true));
        const usages = opts.usages ?? ["client"];
        exts.push(
          new x509.ExtendedKeyUsageExtension(
            usages.map((u) =>
              u === "client" ? x509.ExtendedKeyUsage.clientAuth : x509.ExtendedKeyUsage.serverAuth,
            ),
          ),
        );
        const names: x509.JsonGeneralName[] = [
          ...(opts.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })),
          ...(opts.ips ?? []).map((value) => ({ type: "ip" as const, value })),
        ];
        if (names.length) exts.push(new x509.SubjectAlternativeNameExtension(names));
      }
      const cert = await x509.X509CertificateGenerator.create({
        subject: subject(opts.cn, opts.organizations),
        issuer: parsed.subject,
        notBefore: opts.notBefore ?? new Date(Date.now() - DAY),
        notAfter: opts.notAfter ?? new Date(Date.now() + DAY),
        publicKey: leafKeys.publicKey,
        signingKey: k.privateKey,
        signingAlgorithm: ALG,
        extensions: exts,
      });
      return withIssue(await pair(cert, leafKeys), leafKeys, cert);
    },
  };
}

/** A self-signed root certificate authority. */
export async function makeCa(cn: string): Promise<TestCa> {
  const k = await keys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: subject(cn),
    keys: k,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 30 * DAY),
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(k.publicKey),
    ],
  });
  return withIssue(await pair(cert, k), k, cert);
}

/** Everything the authentication tests need, as a cluster would have it. */
export interface TestPki {
  /** The requestheader CA (front-proxy-ca) and the aggregator's client certificate it signed. */
  requestHeaderCa: TestCa;
  proxyClient: CertPair;
  /** CN front-proxy-client, but signed by a CA nobody trusts. */
  proxyClientWrongCa: CertPair;
  /** Signed by the requestheader CA, but not an allowed name. */
  proxyClientWrongCn: CertPair;
  wrongCa: TestCa;
  /** The cluster's client CA and a user certificate: CN alice, O team-a and developers. */
  clientCa: TestCa;
  userCert: CertPair;
  /** Serving certificate for 127.0.0.1/localhost, for the kube-apiserver stand-in. */
  servingCa: TestCa;
  serving: CertPair;
}

export async function makeTestPki(): Promise<TestPki> {
  const [requestHeaderCa, wrongCa, clientCa, servingCa] = await Promise.all([
    makeCa("front-proxy-ca"),
    makeCa("front-proxy-ca"),
    makeCa("kubernetes-client-ca"),
    makeCa("kubernetes-serving-ca"),
  ]);
  return {
    requestHeaderCa,
    proxyClient: await requestHeaderCa.issue({ cn: "front-proxy-client" }),
    proxyClientWrongCa: await wrongCa.issue({ cn: "front-proxy-client" }),
    proxyClientWrongCn: await requestHeaderCa.issue({ cn: "mallory-proxy" }),
    wrongCa,
    clientCa,
    userCert: await clientCa.issue({ cn: "alice", organizations: ["team-a", "developers"] }),
    servingCa,
    serving: await servingCa.issue({
      cn: "kube-apiserver",
      usages: ["server"],
      dnsNames: ["localhost"],
      ips: ["127.0.0.1"],
    }),
  };
}
