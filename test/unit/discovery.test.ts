import { describe, expect, it } from "vitest";
import {
  aggregatedDiscovery,
  apiGroup,
  apiGroupList,
  apiResourceList,
  buildDiscovery,
  compareKubeVersions,
  CRD_VERBS,
  DISCOVERY_CONTENT_TYPES,
  legacyAPIDiscovery,
  negotiateDiscovery,
  storageVersionHash,
  versionInfo,
} from "../../src/endpoints/discovery.js";
import { loadResources } from "../../src/resources/index.js";

const defs = loadResources();

const KINDS = [
  ["wgpolicyk8s.io", "v1alpha2", "policyreports", "policyreport", "PolicyReport", true, ["polr"], []],
  [
    "wgpolicyk8s.io",
    "v1alpha2",
    "clusterpolicyreports",
    "clusterpolicyreport",
    "ClusterPolicyReport",
    false,
    ["cpolr"],
    [],
  ],
  [
    "reports.kyverno.io",
    "v1",
    "ephemeralreports",
    "ephemeralreport",
    "EphemeralReport",
    true,
    ["ephr"],
    ["kyverno"],
  ],
  [
    "reports.kyverno.io",
    "v1",
    "clusterephemeralreports",
    "clusterephemeralreport",
    "ClusterEphemeralReport",
    false,
    ["cephr"],
    ["kyverno"],
  ],
  ["openreports.io", "v1alpha1", "reports", "report", "Report", true, ["reps"], []],
  ["openreports.io", "v1alpha1", "clusterreports", "clusterreport", "ClusterReport", false, ["creps"], []],
] as const;

describe("aggregated discovery", () => {
  for (const version of ["v2", "v2beta1"] as const) {
    it(`${version}: every kind with responseKind, scope, short names and categories`, () => {
      const doc = aggregatedDiscovery(defs, version) as {
        kind: string;
        apiVersion: string;
        items: {
          metadata: { name: string };
          versions: { version: string; freshness: string; resources: Record<string, unknown>[] }[];
        }[];
      };
      expect(doc.kind).toBe("APIGroupDiscoveryList");
      expect(doc.apiVersion).toBe(`apidiscovery.k8s.io/${version}`);
      expect(doc.items.map((i) => i.metadata.name).sort()).toEqual([
        "openreports.io",
        "reports.kyverno.io",
        "wgpolicyk8s.io",
      ]);
      for (const [g, v, plural, singular, kind, namespaced, shortNames, categories] of KINDS) {
        const item = doc.items.find((i) => i.metadata.name === g)!;
        const ver = item.versions.find((x) => x.version === v)!;
        expect(ver.freshness).toBe("Current");
        const r = ver.resources.find((x) => x.resource === plural)!;
        expect(r).toEqual({
          resource: plural,
          responseKind: { group: g, version: v, kind },
          scope: namespaced ? "Namespaced" : "Cluster",
          singularResource: singular,
          verbs: CRD_VERBS,
          shortNames: [...shortNames],
          ...(categories.length ? { categories: [...categories] } : {}),
        });
      }
    });
  }

  it("/api comes in the same form as /apis, with no groups", () => {
    expect(legacyAPIDiscovery("v2")).toEqual({
      kind: "APIGroupDiscoveryList",
      apiVersion: "apidiscovery.k8s.io/v2",
      metadata: {},
      items: [],
    });
    expect(legacyAPIDiscovery("legacy")).toMatchObject({ kind: "APIVersions", versions: [] });
  });

  it("negotiates the form kubectl asks for, and the Content-Type client-go needs", () => {
    const k133 =
      "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
    const k127 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
    expect(negotiateDiscovery(k133)).toBe("v2");
    expect(negotiateDiscovery(k127)).toBe("v2beta1");
    expect(negotiateDiscovery("application/json")).toBe("legacy");
    expect(negotiateDiscovery(undefined)).toBe("legacy");
    expect(negotiateDiscovery("*/*")).toBe("legacy");
    expect(
      negotiateDiscovery("application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList"),
    ).toBeUndefined();
    expect(negotiateDiscovery("application/vnd.kubernetes.protobuf")).toBeUndefined();
    expect(DISCOVERY_CONTENT_TYPES.v2).toBe(
      "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
    );
  });
});

describe("legacy discovery", () => {
  it("/apis lists each group with its preferred version", () => {
    const doc = apiGroupList(defs) as {
      kind: string;
      groups: { name: string; preferredVersion: unknown; versions: unknown[] }[];
    };
    expect(doc.kind).toBe("APIGroupList");
    expect(doc.groups.find((g) => g.name === "wgpolicyk8s.io")).toEqual({
      name: "wgpolicyk8s.io",
      versions: [{ groupVersion: "wgpolicyk8s.io/v1alpha2", version: "v1alpha2" }],
      preferredVersion: { groupVersion: "wgpolicyk8s.io/v1alpha2", version: "v1alpha2" },
    });
  });

  it("/apis/<g> is an APIGroup; an unknown group is undefined", () => {
    expect(apiGroup(defs, "reports.kyverno.io")).toMatchObject({
      kind: "APIGroup",
      apiVersion: "v1",
      name: "reports.kyverno.io",
      preferredVersion: { groupVersion: "reports.kyverno.io/v1", version: "v1" },
    });
    expect(apiGroup(defs, "apps")).toBeUndefined();
  });

  it("/apis/<g>/<v> lists every kind of the group version", () => {
    for (const [g, v, plural, singular, kind, namespaced, shortNames, categories] of KINDS) {
      const list = apiResourceList(defs, g, v) as {
        kind: string;
        groupVersion: string;
        resources: Record<string, unknown>[];
      };
      expect(list.kind).toBe("APIResourceList");
      expect(list.groupVersion).toBe(`${g}/${v}`);
      expect(list.resources.find((r) => r.name === plural)).toEqual({
        name: plural,
        singularName: singular,
        namespaced,
        kind,
        verbs: ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"],
        shortNames: [...shortNames],
        ...(categories.length ? { categories: [...categories] } : {}),
        storageVersionHash: storageVersionHash(g, v, kind),
      });
    }
    expect(apiResourceList(defs, "wgpolicyk8s.io", "v1")).toBeUndefined();
  });

  it("storage version hashes are 8 bytes of sha256, base64", () => {
    expect(storageVersionHash("wgpolicyk8s.io", "v1alpha2", "PolicyReport")).toMatch(/^[A-Za-z0-9+/]{11}=$/);
  });

  it("orders versions as Kubernetes does", () => {
    const vs = ["v1alpha1", "v2", "v1beta2", "foo", "v1", "v1beta1", "v10"];
    expect(vs.sort(compareKubeVersions)).toEqual([
      "v10",
      "v2",
      "v1",
      "v1beta2",
      "v1beta1",
      "v1alpha1",
      "foo",
    ]);
  });
});

describe("documents and /version", () => {
  it("builds each document once, with a Content-Type and an ETag that changes with the body", () => {
    const docs = buildDiscovery(defs);
    expect(docs.apis.v2.contentType).toBe(DISCOVERY_CONTENT_TYPES.v2);
    expect(docs.apis.v2beta1.contentType).toBe(DISCOVERY_CONTENT_TYPES.v2beta1);
    expect(docs.apis.legacy.contentType).toBe("application/json");
    expect(docs.api.v2.contentType).toBe(DISCOVERY_CONTENT_TYPES.v2);
    expect(JSON.parse(docs.apis.v2.body)).toEqual(aggregatedDiscovery(defs, "v2"));
    expect(docs.apis.v2.etag).toMatch(/^"[0-9a-f]{64}"$/);
    expect(buildDiscovery(defs).apis.v2.etag).toBe(docs.apis.v2.etag);
    expect(buildDiscovery(defs.slice(1)).apis.v2.etag).not.toBe(docs.apis.v2.etag);
    expect([...docs.resourceLists.keys()].sort()).toEqual([
      "openreports.io/v1alpha1",
      "reports.kyverno.io/v1",
      "wgpolicyk8s.io/v1alpha2",
    ]);
    expect([...docs.groups.keys()].sort()).toEqual([
      "openreports.io",
      "reports.kyverno.io",
      "wgpolicyk8s.io",
    ]);
  });

  it("/version claims a configurable Kubernetes version", () => {
    const v = versionInfo();
    expect(Object.keys(v).sort()).toEqual(
      [
        "major",
        "minor",
        "gitVersion",
        "gitCommit",
        "gitTreeState",
        "buildDate",
        "goVersion",
        "compiler",
        "platform",
      ].sort(),
    );
    expect(v).toMatchObject({ major: "1", minor: "33", gitVersion: "v1.33.0" });
    expect(versionInfo({ gitVersion: "v1.29.4" })).toMatchObject({
      major: "1",
      minor: "29",
      gitVersion: "v1.29.4",
    });
  });
});
