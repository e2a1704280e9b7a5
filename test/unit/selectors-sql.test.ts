import { describe, expect, it } from "vitest";
import type { LabelSelector } from "../../src/apimachinery/selector-ast.js";
import { ParamList, fieldSelectorSql, labelSelectorSql } from "../../src/storage/postgres/selectors-sql.js";

function translate(sel: LabelSelector, offset = 0): { where: string[]; params: (string | number)[] } {
  const p = new ParamList(offset);
  const where = labelSelectorSql(sel, p);
  return { where, params: p.values };
}

describe("label selectors as SQL", () => {
  it("matches everything with no requirements", () => {
    expect(translate([])).toEqual({ where: [], params: [] });
  });

  it("merges equalities and single-value in into one containment probe", () => {
    const out = translate([
      { key: "env", op: "=", value: "prod" },
      { key: "audit.kyverno.io/resource.uid", op: "in", values: ["0b5e"] },
    ]);
    expect(out.where).toEqual(["labels @> $1::text::jsonb"]);
    expect(JSON.parse(String(out.params[0]))).toEqual({
      env: "prod",
      "audit.kyverno.io/resource.uid": "0b5e",
    });
  });

  it("numbers placeholders after those already in the statement", () => {
    const out = translate([{ key: "a", op: "exists" }], 3);
    expect(out).toEqual({ where: ["labels ? $4"], params: ["a"] });
  });

  it("negates for != and notin, so that objects without the key match too", () => {
    const ne = translate([{ key: "env", op: "!=", value: "prod" }]);
    expect(ne.where).toEqual(["NOT labels @> $1::text::jsonb"]);
    expect(ne.params).toEqual([JSON.stringify({ env: "prod" })]);
    const notin = translate([{ key: "env", op: "notin", values: ["dev", "prod"] }]);
    expect(notin.where).toEqual(["NOT (labels @> $1::text::jsonb OR labels @> $2::text::jsonb)"]);
    expect(notin.params).toEqual([JSON.stringify({ env: "dev" }), JSON.stringify({ env: "prod" })]);
  });

  it("uses index-served operators for in, exists and !exists", () => {
    expect(translate([{ key: "tier", op: "in", values: ["db", "web"] }]).where).toEqual([
      "(labels @> $1::text::jsonb OR labels @> $2::text::jsonb)",
    ]);
    expect(translate([{ key: "tier", op: "!" }])).toEqual({ where: ["NOT (labels ? $1)"], params: ["tier"] });
  });

  it("matches nothing when one key must equal two values, and handles empty value lists", () => {
    expect(
      translate([
        { key: "env", op: "=", value: "a" },
        { key: "env", op: "=", value: "b" },
      ]).where,
    ).toEqual(["false"]);
    expect(translate([{ key: "env", op: "in", values: [] }]).where).toEqual(["false"]);
    expect(translate([{ key: "env", op: "notin", values: [] }]).where).toEqual(["true"]);
  });

  it("compares gt / lt numerically, narrowed by the index-served ?, and casts only an int64-shaped value", () => {
    const out = translate([
      { key: "env", op: "=", value: "prod" },
      { key: "priority", op: "gt", value: 9223372036854775807n },
      { key: "count", op: "lt", value: -5n },
    ]);
    const int64 = "BETWEEN -9223372036854775808 AND 9223372036854775807";
    const isInt = "~ '^[+-]?0*[0-9]{1,19}$'";
    expect(out.where).toEqual([
      "labels @> $5::text::jsonb",
      `(labels ? $1 AND CASE WHEN (labels ->> $1) ${isInt} THEN (labels ->> $1)::numeric ${int64} AND (labels ->> $1)::numeric > $2::numeric ELSE false END)`,
      `(labels ? $3 AND CASE WHEN (labels ->> $3) ${isInt} THEN (labels ->> $3)::numeric ${int64} AND (labels ->> $3)::numeric < $4::numeric ELSE false END)`,
    ]);
    // the bound travels as decimal text, exact beyond 2^53
    expect(out.params).toEqual([
      "priority",
      "9223372036854775807",
      "count",
      "-5",
      JSON.stringify({ env: "prod" }),
    ]);
  });

  it("keeps values out of the SQL text, whatever they contain", () => {
    const out = translate([{ key: "k'; DROP TABLE x; --", op: "=", value: "v'\"\\" }]);
    expect(out.where.join(" ")).not.toContain("DROP");
    expect(JSON.parse(String(out.params[0]))).toEqual({ "k'; DROP TABLE x; --": "v'\"\\" });
  });
});

describe("field selectors as SQL", () => {
  it("compares the name and namespace columns", () => {
    const p = new ParamList(2);
    expect(
      fieldSelectorSql(
        [
          { field: "metadata.name", op: "=", value: "x" },
          { field: "metadata.namespace", op: "!=", value: "kube-system" },
        ],
        p,
      ),
    ).toEqual(["name = $3", "namespace <> $4"]);
    expect(p.values).toEqual(["x", "kube-system"]);
  });
});
