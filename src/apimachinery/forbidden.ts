import type { AuthzAttributes } from "./auth.js";
import { goQuote } from "./go-format.js";
import { forbidden, PlainTextError, type StatusError } from "./status.js";

/**
 * The 403 kubectl users know, as k8s.io/apiserver writes it (responsewriters.Forbidden wrapped in
 * apierrors.NewForbidden): `policyreports.wgpolicyk8s.io is forbidden: User "bob" cannot list resource
 * "policyreports" in API group "wgpolicyk8s.io" in the namespace "team-a"`, plus `: <reason>` when the
 * authorizer gave one; details {group, kind: resource, name}. Names and paths are quoted with Go's %q.
 */
const q = goQuote;

/** The same characters Go's responsewriters sanitizer replaces, so messages never look like HTML. */
const sanitize = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function forbiddenMessage(a: AuthzAttributes): string {
  const user = a.user.name;
  if (!a.resourceRequest) return `User ${q(user)} cannot ${a.verb} path ${q(a.path)}`;
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const scope = a.namespace ? `in the namespace ${q(a.namespace)}` : "at the cluster scope";
  return `User ${q(user)} cannot ${a.verb} resource ${q(resource)} in API group ${q(a.apiGroup)} ${scope}`;
}

export function forbiddenError(a: AuthzAttributes, reason?: string): StatusError {
  const msg = sanitize(forbiddenMessage(a));
  const err = reason ? `${msg}: ${reason}` : msg;
  const group = a.resourceRequest ? a.apiGroup : "";
  const resource = a.resourceRequest ? a.resource : "";
  const name = a.resourceRequest ? a.name : "";
  const qualified = group ? `${resource}.${group}` : resource;
  let message: string;
  if (!qualified) message = `forbidden: ${err}`;
  else if (!name) message = `${qualified} is forbidden: ${err}`;
  else message = `${qualified} ${q(name)} is forbidden: ${err}`;
  const details: { name?: string; group?: string; kind?: string } = {};
  if (name) details.name = name;
  if (group) details.group = group;
  if (resource) details.kind = resource;
  return forbidden(message, details);
}

/**
 * An authorizer that could not decide: responsewriters.InternalError's plain-text 500, `Internal
 * Server Error: "<request URI>": <error>`, as the authorization filter writes it.
 */
export function authorizationFailure(requestUri: string, cause: string): PlainTextError {
  return new PlainTextError(
    500,
    "InternalError",
    sanitize(`Internal Server Error: ${q(requestUri)}: ${cause}`),
  );
}
