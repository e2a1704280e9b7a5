import { describe, expect, it } from "vitest";
import {
  buildOpenAPI,
  definitionName,
  openapiHash,
  openapiV2,
  openapiV3GroupVersion,
  openapiV3Index,
} from "../../src/endpoints/openapi.js";
import { goRFC1123, oneYearAfter } from "../../src/endpoints/openapi-routes.js";
import { loadResources } from "../../src/resources/index.js";

const defs = loadResources();
type Obj = Record<string, unknown>;

const GVS = ["apis/openreports.io/v1alpha1", "apis/reports.kyverno.io/v1", "apis/wgpolicyk8s.io/v1alpha2"];
const PATCH_TYPES = [
  "application/json-patch+json",
  "application/merge-patch+json",
  "application/apply-patch+yaml",
];
const METHODS = ["get", "put", "post", "delete", "patch"];

function v3(group: string, version: string): Obj {
  const doc = openapiV3GroupVersion(defs, group, version);
  if (!doc) throw new Error(`no document for ${group}/${version}`);
  return doc;
}

/** Every `$ref` anywhere in a document. */
function refs(x: unknown, out: string[] = []): string[] {
  if (Array.isArray(x)) for (const v of x) refs(v, out);
  else if (x && typeof x === "object") {
    for (const [k, v] of Object.entries(x)) {
      if (k === "$ref" && typeof v === "string") out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

function operations(doc: Obj): [string, string, Obj][] {
  const out: [string, string, Obj][] = [];
  for (const [path, item] of Object.entries(doc.paths as Record<string, Obj>)) {
    for (const m of METHODS) if (item[m]) out.push([path, m, item[m] as Obj]);
  }
  return out;
}

/** Follows a field path through schemas the way kubectl explain does ($ref, allOf, items). */
function explain(doc: Obj, schemaName: string, fieldPath: string[]): Obj {
  const schemas = (doc.components as { schemas: Record<string, Obj> }).schemas;
  const resolve = (s: Obj): Obj => {
    if (typeof s.$ref === "string") return resolve(schemas[s.$ref.replace("#/components/schemas/", "")]);
    if (Array.isArray(s.allOf)) return resolve(s.allOf[0] as Obj);
    if (s.type === "array" && s.items) return resolve(s.items as Obj);
    return s;
  };
  let s = resolve(schemas[schemaName]);
  for (const f of fieldPath) {
    const next = (s.properties as Record<string, Obj> | undefined)?.[f];
    if (!next) throw new Error(`no field ${f}`);
    s = resolve(next);
  }
  return s;
}

describe("OpenAPI v3 index", () => {
  it("points at one document per served group version, with the hash of that document", () => {
    const index = openapiV3Index(defs);
    expect(Object.keys(index.paths).sort()).toEqual(GVS);
    const p = index.paths["apis/wgpolicyk8s.io/v1alpha2"];
    const hash = openapiHash(JSON.stringify(v3("wgpolicyk8s.io", "v1alpha2")));
    expect(p.serverRelativeURL).toBe(`/openapi/v3/apis/wgpolicyk8s.io/v1alpha2?hash=${hash}`);
    expect(hash).toMatch(/^[0-9A-F]{128}$/);
  });

  it("buildOpenAPI serializes the same documents once, with stable hashes and ETags", () => {
    const built = buildOpenAPI(defs);
    expect(JSON.parse(built.v3Index.body)).toEqual(openapiV3Index(defs));
    const gv = built.v3.get("apis/reports.kyverno.io/v1")!;
    expect(JSON.parse(gv.body)).toEqual(v3("reports.kyverno.io", "v1"));
    expect(gv.etag).toBe(`"${gv.hash}"`);
    expect(buildOpenAPI(defs).v3.get("apis/reports.kyverno.io/v1")!.hash).toBe(gv.hash);
    expect(JSON.parse(built.v2.body)).toEqual(openapiV2(defs));
    expect(openapiV3GroupVersion(defs, "wgpolicyk8s.io", "v1")).toBeUndefined();
  });
});

describe("OpenAPI v3 group version documents", () => {
  for (const d of defs) {
    it(`${d.kind}: schemas and operations carry its group-version-kind`, () => {
      const doc = v3(d.group, d.version);
      expect(doc.openapi).toBe("3.0.0");
      const schemas = (doc.components as { schemas: Record<string, Obj> }).schemas;
      const kind = schemas[definitionName(d.group, d.version, d.kind)];
      expect(kind["x-kubernetes-group-version-kind"]).toEqual([
        { group: d.group, kind: d.kind, version: d.version },
      ]);
      expect((kind.properties as Obj).metadata).toEqual({
        allOf: [{ $ref: "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" }],
        description:
          "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
      });
      const list = schemas[definitionName(d.group, d.version, d.listKind)];
      expect(list["x-kubernetes-group-version-kind"]).toEqual([
        { group: d.group, kind: d.listKind, version: d.version },
      ]);

      const ops = operations(doc).filter(
        ([, , op]) => (op["x-kubernetes-group-version-kind"] as Obj).kind === d.kind,
      );
      const actions = ops.map(([, , op]) => op["x-kubernetes-action"]).sort();
      const expected = ["delete", "deletecollection", "get", "list", "patch", "post", "put"];
      expect(actions).toEqual(d.namespaced ? [...expected, "list"].sort() : expected);
      for (const [, , op] of ops) {
        expect(op["x-kubernetes-group-version-kind"]).toEqual({
          group: d.group,
          version: d.version,
          kind: d.kind,
        });
      }
    });
  }

  it("names kinds by the reversed group, as kube-openapi does", () => {
    expect(definitionName("wgpolicyk8s.io", "v1alpha2", "PolicyReport")).toBe(
      "io.wgpolicyk8s.v1alpha2.PolicyReport",
    );
    expect(definitionName("reports.kyverno.io", "v1", "EphemeralReport")).toBe(
      "io.kyverno.reports.v1.EphemeralReport",
    );
    expect(definitionName("openreports.io", "v1alpha1", "Report")).toBe("io.openreports.v1alpha1.Report");
  });

  it("paths, operation ids and tags follow the CRD builder", () => {
    const doc = v3("wgpolicyk8s.io", "v1alpha2");
    const paths = doc.paths as Record<string, Record<string, Obj>>;
    expect(Object.keys(paths).sort()).toEqual([
      "/apis/wgpolicyk8s.io/v1alpha2/clusterpolicyreports",
      "/apis/wgpolicyk8s.io/v1alpha2/clusterpolicyreports/{name}",
      "/apis/wgpolicyk8s.io/v1alpha2/namespaces/{namespace}/policyreports",
      "/apis/wgpolicyk8s.io/v1alpha2/namespaces/{namespace}/policyreports/{name}",
      "/apis/wgpolicyk8s.io/v1alpha2/policyreports",
    ]);
    const ns = paths["/apis/wgpolicyk8s.io/v1alpha2/namespaces/{namespace}/policyreports"];
    expect(ns.get.operationId).toBe("listWgpolicyk8sIoV1alpha2NamespacedPolicyReport");
    expect(ns.delete.operationId).toBe("deleteWgpolicyk8sIoV1alpha2CollectionNamespacedPolicyReport");
    expect(ns.post.description).toBe("create a PolicyReport");
    expect(ns.get.tags).toEqual(["wgpolicyk8sIo_v1alpha2"]);
    expect(paths["/apis/wgpolicyk8s.io/v1alpha2/policyreports"].get.operationId).toBe(
      "listWgpolicyk8sIoV1alpha2PolicyReportForAllNamespaces",
    );
    const item = paths["/apis/wgpolicyk8s.io/v1alpha2/clusterpolicyreports/{name}"];
    expect(item.patch.operationId).toBe("patchWgpolicyk8sIoV1alpha2ClusterPolicyReport");
    expect((item.parameters as unknown as Obj[]).map((p) => p.name)).toEqual(["name", "pretty"]);
    const eph = v3("reports.kyverno.io", "v1").paths as Record<string, Record<string, Obj>>;
    expect(eph["/apis/reports.kyverno.io/v1/namespaces/{namespace}/ephemeralreports"].post.description).toBe(
      "create an EphemeralReport",
    );
  });

  it("PATCH takes only the three CRD patch types and lists dryRun, fieldManager, fieldValidation, force", () => {
    for (const gv of GVS) {
      const [, g, v] = gv.split("/");
      const doc = v3(g, v);
      expect(JSON.stringify(doc)).not.toContain("strategic-merge-patch");
      const patches = operations(doc).filter(([, m]) => m === "patch");
      expect(patches.length).toBe(2);
      for (const [, , op] of patches) {
        expect(Object.keys((op.requestBody as { content: Obj }).content)).toEqual(PATCH_TYPES);
        const params = (op.parameters as Obj[]).filter((p) => p.in === "query").map((p) => p.name);
        expect(params).toEqual(["dryRun", "fieldManager", "fieldValidation", "force"]);
      }
    }
  });

  it("list operations take the list parameters; create and replace take fieldValidation", () => {
    const doc = v3("reports.kyverno.io", "v1");
    for (const [, , op] of operations(doc)) {
      const names = (op.parameters as Obj[]).map((p) => p.name);
      const action = op["x-kubernetes-action"];
      if (action === "list" || action === "deletecollection") {
        expect(names).toEqual(
          expect.arrayContaining([
            "labelSelector",
            "fieldSelector",
            "limit",
            "continue",
            "resourceVersion",
            "watch",
          ]),
        );
      }
      if (action === "post" || action === "put")
        expect(names).toEqual(["dryRun", "fieldManager", "fieldValidation"]);
    }
  });

  it("every reference resolves to a schema of the document", () => {
    for (const gv of GVS) {
      const [, g, v] = gv.split("/");
      const doc = v3(g, v);
      const schemas = (doc.components as { schemas: Obj }).schemas;
      for (const r of refs(doc)) {
        expect(r.startsWith("#/components/schemas/")).toBe(true);
        expect(schemas).toHaveProperty([r.slice("#/components/schemas/".length)]);
      }
    }
  });

  it("explains polr.summary and ephr.spec.owner from the document", () => {
    const polr = explain(v3("wgpolicyk8s.io", "v1alpha2"), "io.wgpolicyk8s.v1alpha2.PolicyReport", [
      "summary",
    ]);
    expect(Object.keys(polr.properties as Obj).sort()).toEqual(["error", "fail", "pass", "skip", "warn"]);
    const owner = explain(v3("reports.kyverno.io", "v1"), "io.kyverno.reports.v1.EphemeralReport", [
      "spec",
      "owner",
    ]);
    expect(owner.required).toEqual(["apiVersion", "kind", "name", "uid"]);
    const meta = explain(v3("reports.kyverno.io", "v1"), "io.kyverno.reports.v1.EphemeralReport", [
      "metadata",
      "ownerReferences",
    ]);
    expect(meta.required).toEqual(["apiVersion", "kind", "name", "uid"]);
    const result = explain(v3("openreports.io", "v1alpha1"), "io.openreports.v1alpha1.Report", [
      "results",
      "result",
    ]);
    expect(result.enum).toEqual(["pass", "fail", "warn", "error", "skip"]);
  });
});

describe("OpenAPI v2", () => {
  const doc = openapiV2(defs);

  it("is Swagger 2.0 with every kind, its list, and resolvable references", () => {
    expect(doc.swagger).toBe("2.0");
    const definitions = doc.definitions as Record<string, Obj>;
    for (const d of defs) {
      expect(
        definitions[definitionName(d.group, d.version, d.kind)]["x-kubernetes-group-version-kind"],
      ).toEqual([{ group: d.group, kind: d.kind, version: d.version }]);
      expect(definitions).toHaveProperty([definitionName(d.group, d.version, d.listKind)]);
    }
    for (const r of refs(doc)) {
      expect(r.startsWith("#/definitions/")).toBe(true);
      expect(definitions).toHaveProperty([r.slice("#/definitions/".length)]);
    }
    expect(JSON.stringify(doc)).not.toContain("allOf");
  });

  it("PATCH consumes only the three CRD patch types; the body is a Patch", () => {
    expect(JSON.stringify(doc)).not.toContain("strategic-merge-patch");
    const patches = operations(doc).filter(([, m]) => m === "patch");
    expect(patches.length).toBe(defs.length);
    for (const [, , op] of patches) {
      expect(op.consumes).toEqual(PATCH_TYPES);
      expect((op.parameters as Obj[])[0]).toEqual({
        name: "body",
        in: "body",
        required: true,
        schema: { $ref: "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch" },
      });
      expect((op.parameters as Obj[]).map((p) => p.name)).toContain("fieldValidation");
    }
  });

  it("drops what Swagger 2.0 cannot say but keeps the structure", () => {
    const polr = (doc.definitions as Record<string, Obj>)["io.wgpolicyk8s.v1alpha2.PolicyReport"];
    const results = (polr.properties as Record<string, Obj>).results;
    const item = results.items as { properties: Record<string, Obj>; required?: unknown };
    expect(item.required).toBeUndefined();
    expect(item.properties.result.enum).toBeUndefined();
    expect(item.properties.result.type).toBe("string");
  });
});

/** A minimal protobuf reader: the fields of one message, as raw values. */
function fields(buf: Buffer): [number, number | Buffer][] {
  const out: [number, number | Buffer][] = [];
  let i = 0;
  const varint = (): number => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = buf[i++];
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
      shift += 7;
    }
  };
  while (i < buf.length) {
    const tag = varint();
    const wire = tag & 7;
    if (wire === 0) out.push([tag >> 3, varint()]);
    else if (wire === 1) {
      out.push([tag >> 3, buf.readDoubleLE(i)]);
      i += 8;
    } else if (wire === 2) {
      const len = varint();
      out.push([tag >> 3, buf.subarray(i, i + len)]);
      i += len;
    } else throw new Error(`wire type ${wire}`);
  }
  return out;
}
const field = (buf: Buffer, n: number): Buffer[] =>
  fields(buf)
    .filter(([f]) => f === n)
    .map(([, v]) => v as Buffer);

describe("OpenAPI v2 protobuf (kubectl 1.27/1.28)", () => {
  const proto = buildOpenAPI(defs).v2Protobuf.body;

  it("encodes the document, its definitions and paths as gnostic's openapi_v2.Document", () => {
    expect(field(proto, 1)[0].toString()).toBe("2.0");
    const definitions = field(field(proto, 9)[0], 1).map((named) => field(named, 1)[0].toString());
    expect(definitions).toEqual(Object.keys(openapiV2(defs).definitions as Obj));
    const paths = field(field(proto, 8)[0], 2).map((named) => field(named, 1)[0].toString());
    expect(paths).toEqual(Object.keys(openapiV2(defs).paths as Obj));
  });

  it("keeps the PATCH consumes, the fieldValidation parameter and the group-version-kind extension", () => {
    const named = field(field(proto, 8)[0], 2).find(
      (n) =>
        field(n, 1)[0].toString() ===
        "/apis/wgpolicyk8s.io/v1alpha2/namespaces/{namespace}/policyreports/{name}",
    )!;
    const patch = field(field(named, 2)[0], 8)[0];
    expect(field(patch, 7).map(String)).toEqual(PATCH_TYPES);
    // ParametersItem.parameter → Parameter.non_body_parameter → NonBodyParameter.query → name (4)
    const queryNames = field(patch, 8)
      .map((p) => field(field(p, 1)[0], 2)[0])
      .filter((nb) => nb)
      .map((nb) => field(field(nb, 3)[0], 4)[0].toString());
    expect(queryNames).toContain("fieldValidation");
    const ext = field(patch, 13).map((n) => [
      field(n, 1)[0].toString(),
      field(field(n, 2)[0], 2)[0].toString(),
    ]);
    expect(ext).toContainEqual(["x-kubernetes-action", "patch\n"]);
    expect(ext.find(([k]) => k === "x-kubernetes-group-version-kind")?.[1]).toBe(
      "group: wgpolicyk8s.io\nversion: v1alpha2\nkind: PolicyReport\n",
    );
  });
});

describe("OpenAPI v3 Expires", () => {
  it("is Go's time.RFC1123 of a UTC time: two-digit day, the zone named UTC", () => {
    expect(goRFC1123(new Date("2026-11-27T00:15:00Z"))).toBe("Fri, 27 Nov 2026 00:15:00 UTC");
    expect(goRFC1123(new Date("2027-03-05T09:04:03.999Z"))).toBe("Fri, 05 Mar 2027 09:04:03 UTC");
  });

  it("is a calendar year ahead, 29 February becoming 1 March as Go's AddDate normalises it", () => {
    expect(oneYearAfter(new Date("2026-11-27T00:15:00Z")).toISOString()).toBe("2027-11-27T00:15:00.000Z");
    expect(oneYearAfter(new Date("2028-02-29T12:00:00Z")).toISOString()).toBe("2029-03-01T12:00:00.000Z");
  });
});
