import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCA } from "../../src/server/certs.js";
import { startServer, type TestServer } from "../support/server.js";

/** The fingerprint of the certificate the server presents now. */
function servedFingerprint(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(
      { host: "127.0.0.1", port, ca, servername: "localhost", ALPNProtocols: ["http/1.1"] },
      () => {
        const fp = s.getPeerCertificate().fingerprint256;
        s.end();
        resolve(fp);
      },
    );
    s.on("error", reject);
  });
}

describe("serving certificate from files", () => {
  const dir = mkdtempSync(join(tmpdir(), "rs-tls-"));
  let server: TestServer;
  let caPem: string;
  let sign: () => Promise<{ cert: string; key: string }>;

  // Secrets are updated by an atomic rename (kubelet swaps a symlink): write aside, then move in place.
  const install = (pair: { cert: string; key: string }) => {
    writeFileSync(join(dir, "tls.crt.new"), pair.cert);
    writeFileSync(join(dir, "tls.key.new"), pair.key);
    renameSync(join(dir, "tls.key.new"), join(dir, "tls.key"));
    renameSync(join(dir, "tls.crt.new"), join(dir, "tls.crt"));
  };

  beforeAll(async () => {
    const ca = await createCA("tls-reload-test-ca");
    caPem = ca.cert;
    sign = () =>
      ca.sign({
        commonName: "reports-server",
        dnsNames: ["localhost"],
        ipAddresses: ["127.0.0.1"],
        usage: "server",
      });
    writeFileSync(join(dir, "ca.crt"), ca.cert);
    install(await sign());
    server = await startServer({
      backend: "memory",
      args: [`--tls-cert-file=${join(dir, "tls.crt")}`, `--tls-private-key-file=${join(dir, "tls.key")}`],
    });
  });

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("uses ca.crt beside the certificate as the CA clients trust, and reloads a renewed certificate without a restart", async () => {
    expect(server.ca).toBe(caPem);
    const before = await servedFingerprint(server.port, caPem);
    install(await sign());
    let after = before;
    const deadline = Date.now() + 20_000;
    while (after === before && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      after = await servedFingerprint(server.port, caPem);
    }
    expect(after).not.toBe(before);
    expect(server.logs()).toContain("reloaded the serving certificate");
  });
});
