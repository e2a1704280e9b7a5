import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { KubeObject } from "../../src/apimachinery/types.js";
import { StatusError } from "../../src/apimachinery/status.js";
import { loadResources, type ResourceDef } from "../../src/resources/index.js";
import {
  NAME_DESCRIPTION,
  parseIncludeObject,
  printValue,
  tableColumns,
  toTable,
} from "../../src/registry/table.js";

const EXAMPLES = "/work/shared/reference/kyverno-examples";
const defs = loadResources();

function def(group: string, plural: string): ResourceDef {
  const d = defs.find((x) => x.group === group && x.plural === plural);
  if (d === undefined) throw new Error(`no ${plural}.${group}`);
  return d;
}

function example(file: string): KubeObject[] {
  const doc = parse(readFileSync(`${EXAMPLES}/${file}`, "utf8")) as KubeObject & { items?: KubeObject[] };
  return doc.kind === "List" || doc.items !== undefined ? (doc.items ?? []) : [doc];
}

const polr = def("wgpolicyk8s.io", "policyreports");
const ephr = def("reports.kyverno.io", "ephemeralreports");
const reports = def("openreports.io", "reports");

const col = (name: string, type: string, description: string, priority = 0, format = "") => ({
  name,
  type,
  format,
  description,
  priority,
});

describe("toTable", () => {
  it("produces the Table kube-apiserver serves for a PolicyReport", () => {
    const [report] = example("policyreport-pod.website.yaml");
    const now = new Date(Date.parse("2023-12-06T13:19:03Z") + (3 * 3600 + 2 * 60) * 1000);
    const table = toTable(polr, [report], {
      includeObject: "Metadata",
      listMeta: { resourceVersion: "720600", continue: "abc", remainingItemCount: 3 },
      now,
    });
    expect(JSON.parse(JSON.stringify(table))).toEqual({
      kind: "Table",
      apiVersion: "meta.k8s.io/v1",
      metadata: { resourceVersion: "720600", continue: "abc", remainingItemCount: 3 },
      columnDefinitions: [
        col("Name", "string", NAME_DESCRIPTION, 0, "name"),
        col("Kind", "string", "Custom resource definition column (in JSONPath format): .scope.kind"),
        col("Name", "string", "Custom resource definition column (in JSONPath format): .scope.name"),
        col("Pass", "integer", "Custom resource definition column (in JSONPath format): .summary.pass"),
        col("Fail", "integer", "Custom resource definition column (in JSONPath format): .summary.fail"),
        col("Warn", "integer", "Custom resource definition column (in JSONPath format): .summary.warn"),
        col("Error", "integer", "Custom resource definition column (in JSONPath format): .summary.error"),
        col("Skip", "integer", "Custom resource definition column (in JSONPath format): .summary.skip"),
        col(
          "Age",
          "date",
          "Custom resource definition column (in JSONPath format): .metadata.creationTimestamp",
        ),
      ],
      rows: [
        {
          cells: [
            "487df031-11d8-4ab4-b089-dfc0db1e533e",
            "Pod",
            "kube-apiserver-kind-control-plane",
            10,
            2,
            0,
            0,
            0,
            "3h2m",
          ],
          object: { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: report.metadata },
        },
      ],
    });
  });

  it("keeps the CRD's priorities (openreports hides scope columns without -o wide)", () => {
    expect(tableColumns(reports).map((c) => [c.name, c.priority])).toEqual([
      ["Name", 0],
      ["Kind", 1],
      ["Name", 1],
      ["Pass", 0],
      ["Fail", 0],
      ["Warn", 0],
      ["Error", 0],
      ["Skip", 0],
      ["Age", 0],
    ]);
    const [r] = example("openreports-report-list.website.yaml");
    const table = toTable(reports, [r], { includeObject: "None", listMeta: {}, now: new Date() });
    expect((table.rows as { cells: unknown[] }[])[0].cells).toEqual([
      "7d23ea02-1526-4a4f-ba14-49665adf55e",
      "Pod",
      "example-deployment-c94dc9f47-dfq6l",
      0,
      1,
      0,
      0,
      0,
      // no creationTimestamp at all: nothing found, so null (an empty one would read "<unknown>")
      null,
    ]);
  });

  it("reads escaped label keys for ephemeral reports and leaves missing cells null", () => {
    const [r] = example("ephemeralreport-admission.chainsaw.yaml");
    const table = toTable(ephr, [r], { includeObject: "None", listMeta: {}, now: new Date() });
    expect(table.rows).toEqual([
      {
        cells: [
          // the chainsaw assertion leaves out the name
          "",
          "admission",
          "verylonggggggggggggggggggggggggggggggggggggggggroup.example.com",
          "VeryLongResource",
          "very-long-resource-name-testing-label-length",
          0,
          1,
          0,
          0,
          0,
          null,
          // Uid and Hash (priority 1): labels the example does not carry
          null,
          null,
        ],
        object: null,
      },
    ]);
    const bare = toTable(ephr, [{ metadata: { name: "e" } }], {
      includeObject: "None",
      listMeta: {},
      now: new Date(),
    });
    expect((bare.rows as { cells: unknown[] }[])[0].cells).toEqual([
      "e",
      null,
      null,
      null,
      null,
      null,
      null,
      null,
      null,
      null,
      null,
      null,
      null,
    ]);
  });

  it("includes the whole object, the metadata or nothing", () => {
    const obj: KubeObject = {
      apiVersion: "wgpolicyk8s.io/v1alpha2",
      kind: "PolicyReport",
      metadata: { name: "a" },
    };
    const rowObject = (includeObject: "None" | "Metadata" | "Object") =>
      (
        toTable(polr, [obj], { includeObject, listMeta: {}, now: new Date() }).rows as { object: unknown }[]
      )[0].object;
    expect(rowObject("Object")).toEqual(obj);
    expect(rowObject("Metadata")).toEqual({
      kind: "PartialObjectMetadata",
      apiVersion: "meta.k8s.io/v1",
      metadata: { name: "a" },
    });
    expect(rowObject("None")).toBeNull();
  });

  it("serves v1beta1 Tables when asked", () => {
    const t = toTable(polr, [{ metadata: { name: "a" } }], {
      includeObject: "Metadata",
      listMeta: {},
      now: new Date(),
      tableVersion: "v1beta1",
    });
    expect(t.apiVersion).toBe("meta.k8s.io/v1beta1");
    expect((t.rows as { object: { apiVersion: string } }[])[0].object.apiVersion).toBe("meta.k8s.io/v1beta1");
  });

  it("omits column definitions after the first watch event and empty list metadata", () => {
    const t = toTable(polr, [], {
      includeObject: "Metadata",
      listMeta: {},
      now: new Date(),
      withColumnDefinitions: false,
    });
    expect(JSON.stringify(t)).toBe(
      '{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{},"columnDefinitions":null,"rows":[]}',
    );
  });

  it("converts cells by column type as the CRD table convertor does", () => {
    const custom: ResourceDef = {
      ...polr,
      printerColumns: [
        { name: "S", type: "string", jsonPath: ".v", priority: 0 },
        { name: "I", type: "integer", jsonPath: ".v", priority: 0 },
        { name: "N", type: "number", jsonPath: ".v", priority: 0 },
        { name: "B", type: "boolean", jsonPath: ".v", priority: 0, format: "", description: "a flag" },
        { name: "D", type: "date", jsonPath: ".v", priority: 2 },
      ],
    };
    const now = new Date("2024-01-01T00:10:00Z");
    const cells = (v: unknown) =>
      (
        toTable(custom, [{ metadata: { name: "x" }, v } as KubeObject], {
          includeObject: "None",
          listMeta: {},
          now,
        }).rows as { cells: unknown[] }[]
      )[0].cells.slice(1);
    expect(cells("2024-01-01T00:00:00Z")).toEqual(["2024-01-01T00:00:00Z", null, null, null, "10m"]);
    expect(cells(7)).toEqual(["7", 7, 7, null, null]);
    expect(cells(2.9)).toEqual(["2.9", 2, 2.9, null, null]);
    expect(cells(-2.9)).toEqual(["-2.9", -2, -2.9, null, null]);
    expect(cells(true)).toEqual(["true", null, null, true, null]);
    expect(cells({ b: 1, a: "<x>" })).toEqual(['{"a":"\\u003cx\\u003e","b":1}', null, null, null, null]);
    expect(cells([1, "a"])).toEqual(['[1,"a"]', null, null, null, null]);
    expect(cells(null)).toEqual(["<no value>", null, null, null, null]);
    expect(cells(undefined)).toEqual([null, null, null, null, null]);
    expect(cells("not a date")[4]).toBe("<invalid>");
    expect(cells("")[4]).toBe("<unknown>");
    expect(tableColumns(custom)[4]).toEqual({
      name: "B",
      type: "boolean",
      format: "",
      description: "a flag",
      priority: 0,
    });
    expect(tableColumns(custom)[5].priority).toBe(2);
  });

  it("prints numbers in string columns as Go does", () => {
    expect(printValue(0)).toBe("0");
    expect(printValue(123456789012)).toBe("123456789012");
    expect(printValue(0.5)).toBe("0.5");
    expect(printValue(123456.5)).toBe("123456.5");
    expect(printValue(1234567.5)).toBe("1.2345675e+06");
    expect(printValue(0.00001)).toBe("1e-05");
    expect(printValue(0.0001)).toBe("0.0001");
    expect(printValue(1.5e300)).toBe("1.5e+300");
  });

  it("gives every row one cell per column for every served kind", () => {
    for (const d of defs) {
      const t = toTable(d, [{ metadata: { name: "n", creationTimestamp: "2024-01-01T00:00:00Z" } }], {
        includeObject: "Metadata",
        listMeta: {},
        now: new Date("2024-01-02T00:00:00Z"),
      });
      const defsLen = (t.columnDefinitions as unknown[]).length;
      expect(defsLen).toBe(d.printerColumns.length + 1);
      const cells = (t.rows as { cells: unknown[] }[])[0].cells;
      expect(cells).toHaveLength(defsLen);
      expect(cells[0]).toBe("n");
      const age = (t.columnDefinitions as { name: string }[]).findIndex((c) => c.name === "Age");
      expect(cells[age]).toBe("24h");
    }
  });
});

describe("parseIncludeObject", () => {
  it.each([
    [undefined, "Metadata"],
    ["", "Metadata"],
    ["Metadata", "Metadata"],
    ["Object", "Object"],
    ["None", "None"],
  ])("%j is %s", (v, want) => {
    expect(parseIncludeObject(v)).toBe(want);
  });

  it.each(["metadata", "All", "object "])("rejects %j with 400", (v) => {
    let err: unknown;
    try {
      parseIncludeObject(v);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StatusError);
    expect((err as StatusError).code).toBe(400);
    expect((err as StatusError).message).toBe(
      `Unable to convert to Table as requested: includeObject: Invalid value: ${JSON.stringify(v)}: must be 'Metadata', 'Object', 'None', or empty`,
    );
  });
});
