import { randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { stringify } from "yaml";
import type { Authenticator } from "../apimachinery/auth.js";
import type { UserInfo } from "../apimachinery/types.js";

/**
 * Development mode without a kube-apiserver in front: one admin bearer token, kept in the cert dir so
 * a restarted server accepts the kubeconfig it wrote before.
 */
export const STANDALONE_ADMIN: UserInfo = {
  name: "admin",
  groups: ["system:masters", "system:authenticated"],
};

export function loadOrCreateToken(certDir: string): string {
  const file = join(certDir, "admin.token");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  mkdirSync(certDir, { recursive: true });
  const token = randomBytes(32).toString("base64url");
  writeFileSync(file, token + "\n", { mode: 0o600 });
  return token;
}

/** Accepts exactly the admin token; any other bearer token is not this authenticator's business. */
export function staticTokenAuthenticator(token: string, user: UserInfo = STANDALONE_ADMIN): Authenticator {
  const want = Buffer.from(token);
  return async (req) => {
    const h = req.headers.authorization;
    if (typeof h !== "string" || !h.startsWith("Bearer ")) return undefined;
    const got = Buffer.from(h.slice(7).trim());
    return got.length === want.length && timingSafeEqual(got, want) ? user : undefined;
  };
}

export function writeKubeconfig(path: string, server: string, caPem: string, token: string): void {
  const doc = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: "reports-server",
        cluster: { server, "certificate-authority-data": Buffer.from(caPem).toString("base64") },
      },
    ],
    users: [{ name: "reports-server-admin", user: { token } }],
    contexts: [
      { name: "reports-server", context: { cluster: "reports-server", user: "reports-server-admin" } },
    ],
    "current-context": "reports-server",
    preferences: {},
  };
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, stringify(doc), { mode: 0o600 });
}
