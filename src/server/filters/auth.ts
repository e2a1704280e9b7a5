import type { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import { X509Certificate as X509 } from "node:crypto";
import type { Authenticator, Authorizer, AuthzAttributes } from "../../apimachinery/auth.js";
import { forbiddenError } from "../../apimachinery/forbidden.js";
import { unauthorized } from "../../apimachinery/status.js";
import type { UserInfo } from "../../apimachinery/types.js";
import type { RequestContext } from "../../endpoints/context.js";
import type { Handler } from "./types.js";

/** The client's certificate chain, leaf first, as presented in the TLS handshake. */
export function peerCertificates(ctx: RequestContext): X509Certificate[] {
  const socket = ctx.req.socket as TLSSocket;
  if (typeof socket.getPeerCertificate !== "function") return [];
  const out: X509Certificate[] = [];
  let c = socket.getPeerCertificate(true);
  const seen = new Set<string>();
  while (c && c.raw && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    out.push(new X509(c.raw));
    if (!c.issuerCertificate || c.issuerCertificate === c) break;
    c = c.issuerCertificate;
  }
  return out;
}

export function withAuthentication(
  next: Handler,
  authenticate: Authenticator,
  skip: (path: string) => boolean,
): Handler {
  return async (ctx) => {
    if (skip(ctx.path)) return next(ctx);
    const user = await authenticate({ headers: ctx.req.headers, peerCertificates: peerCertificates(ctx) });
    if (!user) throw unauthorized();
    ctx.user = user;
    ctx.log.user = user.name;
    return next(ctx);
  };
}

export function attributesOf(ctx: RequestContext, user: UserInfo): AuthzAttributes {
  const i = ctx.info;
  return {
    user,
    verb: i.verb,
    resourceRequest: i.isResourceRequest,
    path: ctx.path,
    apiGroup: i.apiGroup,
    apiVersion: i.apiVersion,
    resource: i.resource,
    subresource: i.subresource,
    namespace: i.namespace,
    name: i.authzName,
  };
}

export function withAuthorization(
  next: Handler,
  authorize: Authorizer,
  skip: (path: string) => boolean,
): Handler {
  return async (ctx) => {
    if (skip(ctx.path) || !ctx.user) return next(ctx);
    const attrs = attributesOf(ctx, ctx.user);
    const decision = await authorize(attrs);
    if (!decision.allowed) {
      throw forbiddenError(attrs, decision.reason);
    }
    return next(ctx);
  };
}
