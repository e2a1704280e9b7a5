import { IncomingMessage, ServerResponse } from "node:http";
import { Socket } from "node:net";
import { describe, expect, it } from "vitest";
import type { AuthzAttributes, AuthzDecision } from "../../src/apimachinery/auth.js";
import { forbiddenError } from "../../src/apimachinery/forbidden.js";
import { StatusError } from "../../src/apimachinery/status.js";
import type { UserInfo } from "../../src/apimachinery/types.js";
import type { RequestContext } from "../../src/endpoints/context.js";
import { requestInfo } from "../../src/endpoints/requestinfo.js";
import {
  impersonatedUser,
  impersonationAttributes,
  impersonationRequests,
  withImpersonation,
} from "../../src/server/filters/impersonation.js";

const raw = (...pairs: [string, string][]) => pairs.flat();

describe("what a request asks to impersonate (buildImpersonationRequests)", () => {
  it("is nothing without the headers, or with an empty Impersonate-User", () => {
    expect(impersonationRequests(raw(["Authorization", "Bearer x"]))).toEqual([]);
    expect(impersonationRequests(raw(["Impersonate-User", ""]))).toEqual([]);
  });

  it("reads a service account user by namespace and name, and anything else as a plain user", () => {
    expect(impersonationRequests(raw(["Impersonate-User", "system:serviceaccount:team-a:reporter"]))).toEqual(
      [{ kind: "ServiceAccount", namespace: "team-a", name: "reporter" }],
    );
    for (const name of [
      "system:serviceaccount:Team-A:reporter",
      "system:serviceaccount:team-a:reporter:x",
      "system:serviceaccount::reporter",
    ]) {
      expect(impersonationRequests(raw(["Impersonate-User", name])), name).toEqual([{ kind: "User", name }]);
    }
  });

  it("keeps each Impersonate-Group line whole, and lower-cases and %-decodes extra keys", () => {
    expect(
      impersonationRequests(
        raw(
          ["Impersonate-Uid", "u-1"],
          ["Impersonate-Group", "cn=admins, ou=x"],
          ["impersonate-user", "alice"],
          ["Impersonate-Group", "team-a"],
          ["Impersonate-Extra-Example.com%2FScopes", "view"],
          ["Impersonate-Extra-Example.com%2FScopes", "edit"],
          ["Impersonate-Extra-Bad%zz", "v"],
        ),
      ),
    ).toEqual([
      { kind: "User", name: "alice" },
      { kind: "Group", name: "cn=admins, ou=x" },
      { kind: "Group", name: "team-a" },
      { kind: "UserExtra", key: "example.com/scopes", value: "view" },
      { kind: "UserExtra", key: "example.com/scopes", value: "edit" },
      { kind: "UserExtra", key: "bad%zz", value: "v" },
      { kind: "UID", uid: "u-1" },
    ]);
  });

  it("is a 400 naming what was asked for (Go's %v of the object references) when no user is", () => {
    let err: unknown;
    try {
      impersonationRequests(
        raw(
          ["Impersonate-Group", "admins"],
          ["Impersonate-Extra-Scopes", "view"],
          ["Impersonate-Uid", "u-1"],
        ),
      );
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StatusError);
    expect((err as StatusError).toStatus()).toMatchObject({
      code: 400,
      reason: "BadRequest",
      message:
        "requested [{Group  admins    } {UserExtra  view  authentication.k8s.io/v1  scopes} {UID  u-1  authentication.k8s.io/v1  }] without impersonating a user",
    });
  });
});

describe("the user a request goes on as", () => {
  it("gets system:authenticated unless a group says authenticated or unauthenticated", () => {
    expect(impersonatedUser([{ kind: "User", name: "alice" }])).toEqual({
      name: "alice",
      groups: ["system:authenticated"],
      extra: {},
    });
    expect(
      impersonatedUser([
        { kind: "User", name: "alice" },
        { kind: "Group", name: "system:unauthenticated" },
      ]).groups,
    ).toEqual(["system:unauthenticated"]);
    expect(
      impersonatedUser([
        { kind: "User", name: "alice" },
        { kind: "Group", name: "system:authenticated" },
        { kind: "Group", name: "a" },
      ]).groups,
    ).toEqual(["system:authenticated", "a"]);
  });

  it("keeps extras under any key, also one a plain object inherits", () => {
    const user = impersonatedUser([
      { kind: "User", name: "alice" },
      { kind: "UserExtra", key: "constructor", value: "a" },
      { kind: "UserExtra", key: "constructor", value: "b" },
      { kind: "UserExtra", key: "__proto__", value: "c" },
    ]);
    expect(user.extra?.constructor).toEqual(["a", "b"]);
    expect(Object.getOwnPropertyDescriptor(user.extra, "__proto__")?.value).toEqual(["c"]);
  });

  it("gets system:unauthenticated when it is system:anonymous", () => {
    expect(impersonatedUser([{ kind: "User", name: "system:anonymous" }]).groups).toEqual([
      "system:unauthenticated",
    ]);
    expect(
      impersonatedUser([
        { kind: "User", name: "system:anonymous" },
        { kind: "Group", name: "system:authenticated" },
      ]).groups,
    ).toEqual(["system:authenticated", "system:unauthenticated"]);
  });

  it("gets a service account's groups only when no group is given, and its extras and UID", () => {
    const sa = { kind: "ServiceAccount", namespace: "team-a", name: "reporter" } as const;
    expect(impersonatedUser([sa]).groups).toEqual([
      "system:serviceaccounts",
      "system:serviceaccounts:team-a",
      "system:authenticated",
    ]);
    expect(
      impersonatedUser([
        sa,
        { kind: "Group", name: "g" },
        { kind: "UserExtra", key: "scopes", value: "a" },
        { kind: "UserExtra", key: "scopes", value: "b" },
        { kind: "UID", uid: "u-1" },
      ]),
    ).toEqual({
      name: "system:serviceaccount:team-a:reporter",
      uid: "u-1",
      groups: ["g", "system:authenticated"],
      extra: { scopes: ["a", "b"] },
    });
  });
});

describe("the impersonate check and its 403", () => {
  const bob = { name: "bob", groups: ["system:authenticated"] };
  it("is namespaced for a service account", () => {
    const a = impersonationAttributes(bob, { kind: "ServiceAccount", namespace: "team-a", name: "reporter" });
    expect(forbiddenError(a).message).toBe(
      'serviceaccounts "reporter" is forbidden: User "bob" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "team-a"',
    );
  });

  it("names the UID in group authentication.k8s.io", () => {
    const a = impersonationAttributes(bob, { kind: "UID", uid: "u-1" });
    expect(a).toMatchObject({
      apiGroup: "authentication.k8s.io",
      apiVersion: "v1",
      resource: "uids",
      name: "u-1",
    });
    expect(forbiddenError(a).message).toBe(
      'uids.authentication.k8s.io "u-1" is forbidden: User "bob" cannot impersonate resource "uids" in API group "authentication.k8s.io" at the cluster scope',
    );
  });
});

describe("the impersonation filter", () => {
  const LIST = "/apis/wgpolicyk8s.io/v1alpha2/namespaces/team-a/policyreports";
  const ops: UserInfo = { name: "ops", groups: ["ops", "system:authenticated"] };

  /** A request as authentication leaves it: headers in both forms, and the authenticated user. */
  function request(headers: [string, string][]): RequestContext {
    const req = new IncomingMessage(new Socket());
    req.rawHeaders = headers.flat();
    for (const [n, v] of headers) req.headers[n.toLowerCase()] = v;
    const query = new URLSearchParams();
    return {
      req,
      res: new ServerResponse(req),
      method: "GET",
      path: LIST,
      query,
      info: requestInfo("GET", LIST, query),
      user: ops,
      signal: new AbortController().signal,
      abort: () => {},
      body: async () => Buffer.alloc(0),
      warnings: [],
      log: {},
    };
  }

  /** Runs the filter; what it authorized, and the user and headers the next handler saw. */
  async function run(ctx: RequestContext, decide: (a: AuthzAttributes) => Promise<AuthzDecision>) {
    const checked: string[] = [];
    let seen: { user?: UserInfo; headers: string[] } | undefined;
    const h = withImpersonation(
      async (c) => {
        seen = { user: c.user, headers: Object.keys(c.req.headers) };
      },
      (a) => {
        checked.push(`${a.user.name} ${a.verb} ${a.resource}/${a.name}`);
        return decide(a);
      },
    );
    const err = await h(ctx).then(
      () => undefined,
      (e: unknown) => e,
    );
    return { checked, seen, err };
  }

  it("passes a request without the headers on untouched, with no review", async () => {
    const { checked, seen } = await run(request([["Accept", "application/json"]]), async () => ({
      allowed: false,
    }));
    expect(checked).toEqual([]);
    expect(seen).toEqual({ user: ops, headers: ["accept"] });
  });

  it("authorizes each thing asked for as the caller, then goes on as the impersonated user without the headers", async () => {
    const ctx = request([
      ["Accept", "application/json"],
      ["Impersonate-User", "alice"],
      ["Impersonate-Group", "team-a"],
      ["Impersonate-Extra-Scopes", "view"],
    ]);
    const { checked, seen, err } = await run(ctx, async () => ({ allowed: true }));
    expect(err).toBeUndefined();
    expect(checked).toEqual([
      "ops impersonate users/alice",
      "ops impersonate groups/team-a",
      "ops impersonate userextras/view",
    ]);
    expect(seen).toEqual({
      user: { name: "alice", groups: ["team-a", "system:authenticated"], extra: { scopes: ["view"] } },
      headers: ["accept"],
    });
    expect(ctx.log).toMatchObject({ user: "alice", impersonator: "ops" });
  });

  it("stops at the first refusal with its 403, and treats a review that fails as a refusal", async () => {
    const headers: [string, string][] = [
      ["Impersonate-User", "alice"],
      ["Impersonate-Group", "admins"],
    ];
    const refused = await run(request(headers), async (a) =>
      a.resource === "groups" ? { allowed: false, reason: "no RBAC policy matched" } : { allowed: true },
    );
    expect(refused.seen).toBeUndefined();
    expect(refused.err).toBeInstanceOf(StatusError);
    expect((refused.err as StatusError).toStatus()).toMatchObject({
      code: 403,
      message:
        'groups "admins" is forbidden: User "ops" cannot impersonate resource "groups" in API group "" at the cluster scope: no RBAC policy matched',
    });

    const failed = await run(request(headers), async () => {
      throw new Error("connection refused");
    });
    expect(failed.checked).toEqual(["ops impersonate users/alice"]);
    expect((failed.err as StatusError).toStatus()).toMatchObject({
      code: 403,
      message:
        'users "alice" is forbidden: User "ops" cannot impersonate resource "users" in API group "" at the cluster scope',
    });
  });
});
