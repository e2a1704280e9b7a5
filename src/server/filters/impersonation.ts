import type { Authorizer, AuthzAttributes, AuthzDecision } from "../../apimachinery/auth.js";
import { forbiddenError } from "../../apimachinery/forbidden.js";
import { badRequest, internalError } from "../../apimachinery/status.js";
import type { UserInfo } from "../../apimachinery/types.js";
import { isDNS1123Label, isDNS1123Subdomain } from "../../registry/validation/names.js";
import type { Handler } from "./types.js";
import { appendExtra, unescapeExtraKey } from "../../apimachinery/user-extra.js";

/**
 * Impersonation, as k8s.io/apiserver's WithImpersonation (pkg/endpoints/filters/impersonation.go)
 * does it between authentication and authorization: the caller asks to act as another user with
 * Impersonate-User, -Group, -Uid and -Extra-<key> headers; each thing asked for is authorized for the
 * caller with verb `impersonate`, and the request then goes on as the impersonated user.
 */

const USER = "impersonate-user";
const GROUP = "impersonate-group";
const UID = "impersonate-uid";
const EXTRA_PREFIX = "impersonate-extra-";
const AUTHENTICATION_V1 = { group: "authentication.k8s.io", version: "v1" };

/** One thing asked for (impersonation.go builds a v1.ObjectReference for each). */
export type ImpersonationRequest =
  | { kind: "ServiceAccount"; namespace: string; name: string }
  | { kind: "User"; name: string }
  | { kind: "Group"; name: string }
  | { kind: "UserExtra"; key: string; value: string }
  | { kind: "UID"; uid: string };

/** The headers as Go's http.Header holds them: lower-cased names, repeated lines kept apart, in order. */
function headerLines(rawHeaders: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    const values = out.get(name);
    if (values) values.push(rawHeaders[i + 1]);
    else out.set(name, [rawHeaders[i + 1]]);
  }
  return out;
}

/**
 * serviceaccount.SplitUsername: `system:serviceaccount:<namespace>:<name>` with a DNS label for the
 * namespace and a DNS subdomain for the name; anything else is an ordinary user name.
 */
export function splitServiceAccountUsername(
  username: string,
): { namespace: string; name: string } | undefined {
  const prefix = "system:serviceaccount:";
  if (!username.startsWith(prefix)) return undefined;
  const parts = username.slice(prefix.length).split(":");
  if (parts.length !== 2) return undefined;
  const [namespace, name] = parts;
  if (isDNS1123Label(namespace).length > 0 || isDNS1123Subdomain(name).length > 0) return undefined;
  return { namespace, name };
}

/** How Go's %v prints a v1.ObjectReference value: its seven fields, space-separated, in braces. */
function objectReferenceString(r: ImpersonationRequest): string {
  const v1 = `${AUTHENTICATION_V1.group}/${AUTHENTICATION_V1.version}`;
  // Kind Namespace Name UID APIVersion ResourceVersion FieldPath
  const fields =
    r.kind === "ServiceAccount"
      ? [r.kind, r.namespace, r.name, "", "", "", ""]
      : r.kind === "UserExtra"
        ? [r.kind, "", r.value, "", v1, "", r.key]
        : r.kind === "UID"
          ? [r.kind, "", r.uid, "", v1, "", ""]
          : [r.kind, "", r.name, "", "", "", ""];
  return `{${fields.join(" ")}}`;
}

/**
 * buildImpersonationRequests: the user (first Impersonate-User), every Impersonate-Group line, every
 * Impersonate-Extra-<key> value (the key lower-cased and %-decoded), then the first Impersonate-Uid.
 * Asking for groups, extras or a UID without a user is a 400, in kube-apiserver's words.
 */
export function impersonationRequests(rawHeaders: string[]): ImpersonationRequest[] {
  const h = headerLines(rawHeaders);
  const out: ImpersonationRequest[] = [];
  const user = h.get(USER)?.[0] ?? "";
  if (user !== "") {
    const sa = splitServiceAccountUsername(user);
    out.push(sa ? { kind: "ServiceAccount", ...sa } : { kind: "User", name: user });
  }
  for (const name of h.get(GROUP) ?? []) out.push({ kind: "Group", name });
  for (const [header, values] of h) {
    if (!header.startsWith(EXTRA_PREFIX)) continue;
    const key = unescapeExtraKey(header.slice(EXTRA_PREFIX.length));
    for (const value of values) out.push({ kind: "UserExtra", key, value });
  }
  const uid = h.get(UID)?.[0] ?? "";
  if (uid !== "") out.push({ kind: "UID", uid });
  if (user === "" && out.length > 0) {
    throw badRequest(`requested [${out.map(objectReferenceString).join(" ")}] without impersonating a user`);
  }
  return out;
}

/** The `impersonate` check for one thing asked for (actingAsAttributes). */
export function impersonationAttributes(requestor: UserInfo, r: ImpersonationRequest): AuthzAttributes {
  const base = {
    user: requestor,
    verb: "impersonate",
    resourceRequest: true,
    path: "",
    apiGroup: "",
    apiVersion: "",
    subresource: "",
    namespace: "",
  };
  switch (r.kind) {
    case "ServiceAccount":
      return { ...base, resource: "serviceaccounts", namespace: r.namespace, name: r.name };
    case "User":
      return { ...base, resource: "users", name: r.name };
    case "Group":
      return { ...base, resource: "groups", name: r.name };
    case "UserExtra":
      return {
        ...base,
        apiGroup: AUTHENTICATION_V1.group,
        apiVersion: AUTHENTICATION_V1.version,
        resource: "userextras",
        subresource: r.key,
        name: r.value,
      };
    case "UID":
      return {
        ...base,
        apiGroup: AUTHENTICATION_V1.group,
        apiVersion: AUTHENTICATION_V1.version,
        resource: "uids",
        name: r.uid,
      };
  }
}

/**
 * The user the request goes on as. A service account without Impersonate-Group gets its fixed groups;
 * given groups are the authority otherwise. Then system:authenticated is added unless a group already
 * says authenticated or unauthenticated, or system:unauthenticated for system:anonymous.
 */
export function impersonatedUser(requests: ImpersonationRequest[]): UserInfo {
  // one request per Impersonate-Group line, so this is `len(req.Header[ImpersonateGroupHeader]) > 0`
  const groupsSpecified = requests.some((r) => r.kind === "Group");
  let name = "";
  let groups: string[] = [];
  let uid = "";
  const extra: Record<string, string[]> = {};
  for (const r of requests) {
    switch (r.kind) {
      case "ServiceAccount":
        name = `system:serviceaccount:${r.namespace}:${r.name}`;
        if (!groupsSpecified) groups = ["system:serviceaccounts", `system:serviceaccounts:${r.namespace}`];
        break;
      case "User":
        name = r.name;
        break;
      case "Group":
        groups.push(r.name);
        break;
      case "UserExtra":
        appendExtra(extra, r.key, [r.value]);
        break;
      case "UID":
        uid = r.uid;
        break;
    }
  }
  if (name !== "system:anonymous") {
    if (!groups.some((g) => g === "system:authenticated" || g === "system:unauthenticated")) {
      groups.push("system:authenticated");
    }
  } else if (!groups.includes("system:unauthenticated")) {
    groups.push("system:unauthenticated");
  }
  const user: UserInfo = { name, groups, extra };
  if (uid !== "") user.uid = uid;
  return user;
}

/** Whether any header asks to impersonate: most requests do not, and skip the header copy. */
function asksToImpersonate(rawHeaders: string[]): boolean {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    if (
      name.length >= 15 &&
      (name[0] === "I" || name[0] === "i") &&
      name.toLowerCase().startsWith("impersonate-")
    )
      return true;
  }
  return false;
}

export function withImpersonation(next: Handler, authorize: Authorizer): Handler {
  return async (ctx) => {
    if (!asksToImpersonate(ctx.req.rawHeaders)) return next(ctx);
    const requests = impersonationRequests(ctx.req.rawHeaders);
    if (requests.length === 0) return next(ctx);
    const requestor = ctx.user;
    if (!requestor) throw internalError("no user found for request");
    for (const r of requests) {
      const attrs = impersonationAttributes(requestor, r);
      // Unlike the authorization filter (500), a review that fails here is a plain 403: kube-apiserver
      // treats an error like a refusal (`err != nil || decision != DecisionAllow`).
      const decision = await authorize(attrs).catch((): AuthzDecision => ({ allowed: false }));
      if (!decision.allowed) throw forbiddenError(attrs, decision.reason);
    }
    const user = impersonatedUser(requests);
    ctx.log.impersonator = requestor.name;
    ctx.log.user = user.name;
    ctx.user = user;
    // the impersonation headers do not travel further, as in kube-apiserver
    for (const name of Object.keys(ctx.req.headers)) {
      if (name === USER || name === GROUP || name === UID || name.startsWith(EXTRA_PREFIX)) {
        delete ctx.req.headers[name];
      }
    }
    return next(ctx);
  };
}
