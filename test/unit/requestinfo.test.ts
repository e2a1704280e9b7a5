import { describe, expect, it } from "vitest";
import { requestInfo } from "../../src/endpoints/requestinfo.js";

const LIST = "/apis/wgpolicyk8s.io/v1alpha2/namespaces/team-a/policyreports";
const info = (query: string, method = "GET", path = LIST) =>
  requestInfo(method, path, new URLSearchParams(query));

describe("the name authorization sees (kube-apiserver's requestInfo.Name)", () => {
  it("is the path's, or for a list or watch the one its field selector requires", () => {
    expect(info("", "GET", `${LIST}/r1`)).toMatchObject({ verb: "get", name: "r1", authzName: "r1" });
    expect(info("fieldSelector=metadata.name%3Dr1")).toMatchObject({
      verb: "list",
      name: "",
      authzName: "r1",
    });
    expect(info("watch=true&fieldSelector=metadata.name%3D%3Dr1")).toMatchObject({
      verb: "watch",
      authzName: "r1",
    });
    expect(info("fieldSelector=metadata.namespace%3Dteam-a,metadata.name%3Dr1").authzName).toBe("r1");
  });

  it("takes the first requirement in sorted order, as RequiresExactMatch on the parsed selector does", () => {
    expect(info("fieldSelector=metadata.name%3Db,metadata.name%3Da").authzName).toBe("a");
  });

  it("is empty when nothing requires one name, or when the list options do not decode", () => {
    for (const q of [
      "fieldSelector=metadata.name!%3Dr1",
      "fieldSelector=metadata.name%3Dr1,oops",
      "fieldSelector=metadata.name%3Da%2Fb",
      "fieldSelector=metadata.name%3D..",
      "fieldSelector=metadata.name%3Dr1&labelSelector=%3D%3D",
      "fieldSelector=metadata.name%3Dr1&limit=ten",
      "fieldSelector=metadata.name%3Dr1&timeoutSeconds=1.5",
    ]) {
      expect(info(q).authzName, q).toBe("");
    }
    // deletecollection reads no name from its selector
    expect(info("fieldSelector=metadata.name%3Dr1", "DELETE")).toMatchObject({
      verb: "deletecollection",
      authzName: "",
    });
  });
});

describe("the selectors authorization sees (kube-apiserver's requestInfo.FieldSelector/LabelSelector)", () => {
  const sel = "labelSelector=app%3Dweb&fieldSelector=metadata.name%3Dr1";
  it("are the raw query values of a list, watch or deletecollection", () => {
    for (const [q, method] of [
      [sel, "GET"],
      [`watch=1&${sel}`, "GET"],
      [sel, "DELETE"],
    ] as const) {
      expect(info(q, method), q).toMatchObject({
        labelSelector: "app=web",
        fieldSelector: "metadata.name=r1",
      });
    }
    // kept when other list options do not decode, and when they do not parse themselves
    expect(info("limit=ten&labelSelector=%3D%3D")).toMatchObject({ verb: "list", labelSelector: "==" });
  });

  it("are empty for other verbs and for the deprecated /watch/ prefix", () => {
    // a named GET stays a get with ?watch=1, as requestinfo.go leaves it
    expect(info(`watch=1&${sel}`, "GET", `${LIST}/r1`)).toMatchObject({ verb: "get", name: "r1" });
    for (const [method, path] of [
      ["GET", `${LIST}/r1`],
      ["DELETE", `${LIST}/r1`],
      ["POST", LIST],
      ["GET", "/apis/wgpolicyk8s.io/v1alpha2/watch/namespaces/team-a/policyreports"],
    ] as const) {
      expect(info(sel, method, path), `${method} ${path}`).toMatchObject({
        labelSelector: "",
        fieldSelector: "",
      });
    }
  });
});
