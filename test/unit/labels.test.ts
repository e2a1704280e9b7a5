import { describe, expect, it } from "vitest";
import {
  formatLabelSelector,
  labelKeyErrors,
  labelValueErrors,
  matchLabels,
  parseLabelSelector,
} from "../../src/apimachinery/labels.js";
import type { LabelSelector } from "../../src/apimachinery/selector-ast.js";
import { StatusError } from "../../src/apimachinery/status.js";

function parseError(s: string): StatusError {
  try {
    parseLabelSelector(s);
  } catch (e) {
    if (e instanceof StatusError) return e;
    throw e;
  }
  throw new Error(`expected ${JSON.stringify(s)} to be rejected`);
}

const NAME_PART_REGEX =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const GT_LT_INT = "for 'Gt', 'Lt' operators, the value must be an integer";
const VALUE_REGEX =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

describe("parseLabelSelector", () => {
  const cases: [string, LabelSelector][] = [
    ["", []],
    ["   ", []],
    ["app=web", [{ key: "app", op: "=", value: "web" }]],
    ["app==web", [{ key: "app", op: "=", value: "web" }]],
    ["app!=web", [{ key: "app", op: "!=", value: "web" }]],
    ["app=", [{ key: "app", op: "=", value: "" }]],
    ["app!=", [{ key: "app", op: "!=", value: "" }]],
    ["app", [{ key: "app", op: "exists" }]],
    ["!app", [{ key: "app", op: "!" }]],
    ["app in (b,a,b)", [{ key: "app", op: "in", values: ["a", "b"] }]],
    ["app notin (x)", [{ key: "app", op: "notin", values: ["x"] }]],
    ["app in ()", [{ key: "app", op: "in", values: [""] }]],
    ["app in (,a)", [{ key: "app", op: "in", values: ["", "a"] }]],
    ["app in (a,)", [{ key: "app", op: "in", values: ["", "a"] }]],
    ["app in (a,,b)", [{ key: "app", op: "in", values: ["", "a", "b"] }]],
    // keywords are plain values and keys where a value is expected
    ["in in (in,notin)", [{ key: "in", op: "in", values: ["in", "notin"] }]],
    ["x=in", [{ key: "x", op: "=", value: "in" }]],
    [
      "  a = b ,  c  in ( d , e ) , !f ",
      [
        { key: "a", op: "=", value: "b" },
        { key: "c", op: "in", values: ["d", "e"] },
        { key: "f", op: "!" },
      ],
    ],
    [
      "audit.kyverno.io/resource.uid=0ec04a57-4c3d-492d-9278-951cd1929fe3",
      [{ key: "audit.kyverno.io/resource.uid", op: "=", value: "0ec04a57-4c3d-492d-9278-951cd1929fe3" }],
    ],
    [
      "z=1,a=2,m",
      [
        { key: "a", op: "=", value: "2" },
        { key: "m", op: "exists" },
        { key: "z", op: "=", value: "1" },
      ],
    ],
    [
      "a=1,a!=2",
      [
        { key: "a", op: "=", value: "1" },
        { key: "a", op: "!=", value: "2" },
      ],
    ],
    ["\tx\r\n=\ty\n", [{ key: "x", op: "=", value: "y" }]],
    // gt / lt: the value is an int64, exact beyond 2^53
    ["priority>5", [{ key: "priority", op: "gt", value: 5n }]],
    ["count < 10", [{ key: "count", op: "lt", value: 10n }]],
    ["a>007", [{ key: "a", op: "gt", value: 7n }]],
    ["a>9223372036854775807", [{ key: "a", op: "gt", value: 9223372036854775807n }]],
    ["a<9007199254740993", [{ key: "a", op: "lt", value: 9007199254740993n }]],
    [
      "a<10,a>1",
      [
        { key: "a", op: "lt", value: 10n },
        { key: "a", op: "gt", value: 1n },
      ],
    ],
    [
      "b>0,a=x",
      [
        { key: "a", op: "=", value: "x" },
        { key: "b", op: "gt", value: 0n },
      ],
    ],
  ];

  it.each(cases)("parses %j", (input, want) => {
    expect(parseLabelSelector(input)).toEqual(want);
  });

  const errors: [string, string][] = [
    ["a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"],
    ["a=b c", "found 'c', expected: ',' or 'end of string'"],
    ["a=b,", "found '', expected: identifier after ','"],
    [",a", "found ',', expected: !, identifier, or 'end of string'"],
    ["=a", "found '=', expected: !, identifier, or 'end of string'"],
    ["a in b", "unable to parse requirement: found 'b' expected: '('"],
    ["a in (b", "unable to parse requirement: found '', expected: ',' or ')'"],
    ["a in (b c)", "unable to parse requirement: found 'c', expected: ',' or ')'"],
    ["a in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier"],
    ["a=(", "unable to parse requirement: found '(', expected: identifier"],
    ["!a=b", "found '=', expected: ',' or 'end of string'"],
    ["!", "unable to parse requirement: found '', expected: identifier"],
    ["a in (b,=)", "unable to parse requirement: found '=', expected: ',', or identifier"],
    ["app:web", `unable to parse requirement: <nil>: Invalid value: "app:web": ${NAME_PART_REGEX}`],
    ["-a=b", `unable to parse requirement: <nil>: Invalid value: "-a": ${NAME_PART_REGEX}`],
    [
      "app.kubernetes_io/name=x",
      `unable to parse requirement: <nil>: Invalid value: "app.kubernetes_io/name": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    ],
    ["/a", `unable to parse requirement: <nil>: Invalid value: "/a": prefix part must be non-empty`],
    [
      "a/",
      `unable to parse requirement: <nil>: Invalid value: "a/": name part must be non-empty; ${NAME_PART_REGEX}`,
    ],
    [
      "a/b/c=1",
      `unable to parse requirement: <nil>: Invalid value: "a/b/c": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ],
    [
      `${"k".repeat(64)}`,
      `unable to parse requirement: <nil>: Invalid value: "${"k".repeat(64)}": name part must be no more than 63 characters`,
    ],
    ["a=-b", `unable to parse requirement: values[0][a]: Invalid value: "-b": ${VALUE_REGEX}`],
    [
      `a=${"v".repeat(64)}`,
      `unable to parse requirement: values[0][a]: Invalid value: "${"v".repeat(64)}": must be no more than 63 characters`,
    ],
    [
      "a in (-x,-y)",
      `unable to parse requirement: [values[0][a]: Invalid value: "-x": ${VALUE_REGEX}, values[1][a]: Invalid value: "-y": ${VALUE_REGEX}]`,
    ],
    [
      "a>x",
      `unable to parse requirement: values[0]: Invalid value: "x": for 'Gt', 'Lt' operators, the value must be an integer`,
    ],
    // strconv.ParseInt(v, 10, 64) fails: not digits, or outside int64
    ["a<", `unable to parse requirement: values[0]: Invalid value: "": ${GT_LT_INT}`],
    ["a>1_000", `unable to parse requirement: values[0]: Invalid value: "1_000": ${GT_LT_INT}`],
    ["a>0x10", `unable to parse requirement: values[0]: Invalid value: "0x10": ${GT_LT_INT}`],
    ["a<1.5", `unable to parse requirement: values[0]: Invalid value: "1.5": ${GT_LT_INT}`],
    ["a>1e3", `unable to parse requirement: values[0]: Invalid value: "1e3": ${GT_LT_INT}`],
    [
      "a>99999999999999999999",
      `unable to parse requirement: values[0]: Invalid value: "99999999999999999999": ${GT_LT_INT}`,
    ],
    [
      "a>9223372036854775808",
      `unable to parse requirement: values[0]: Invalid value: "9223372036854775808": ${GT_LT_INT}`,
    ],
    // an integer, but not a label value (it must start with an alphanumeric character)
    ["a>+1", `unable to parse requirement: values[0][a]: Invalid value: "+1": ${VALUE_REGEX}`],
    [
      "a<-9223372036854775808",
      `unable to parse requirement: values[0][a]: Invalid value: "-9223372036854775808": ${VALUE_REGEX}`,
    ],
    // neither: both messages, the integer one first
    [
      "a<-9223372036854775809",
      `unable to parse requirement: [values[0]: Invalid value: "-9223372036854775809": ${GT_LT_INT}, values[0][a]: Invalid value: "-9223372036854775809": ${VALUE_REGEX}]`,
    ],
    // ">=" is not an operator: ">" then a value that is not an identifier
    ["a>=1", "unable to parse requirement: found '=', expected: identifier"],
  ];

  it.each(errors)("rejects %j with the API server's message", (input, message) => {
    const err = parseError(input);
    expect(err.code).toBe(400);
    expect(err.reason).toBe("BadRequest");
    expect(err.message).toBe(message);
  });

  it("keeps requirements on one key in the order written", () => {
    expect(parseLabelSelector("b,a!=1,a=2").map((r) => r.op)).toEqual(["!=", "=", "exists"]);
  });
});

describe("labelKeyErrors / labelValueErrors", () => {
  it.each(["a", "A", "a.b-c_d", "example.com/name", "a".repeat(63), `${"a".repeat(253)}/x`])(
    "accepts key %j",
    (k) => expect(labelKeyErrors(k)).toEqual([]),
  );
  it.each(["", "_a", "a_", "Example.com/a", "a..b/c", `${"a".repeat(254)}/x`, "a/b/c"])(
    "rejects key %j",
    (k) => {
      expect(labelKeyErrors(k).length).toBeGreaterThan(0);
    },
  );
  it.each(["", "a", "A-b_c.d", "v".repeat(63)])("accepts value %j", (v) =>
    expect(labelValueErrors(v)).toEqual([]),
  );
  it.each(["-a", "a-", "a b", "v".repeat(64), "é"])("rejects value %j", (v) => {
    expect(labelValueErrors(v).length).toBeGreaterThan(0);
  });
});

describe("matchLabels", () => {
  const labels = { app: "web", tier: "front", "example.com/team": "a" };
  const cases: [string, Record<string, string> | undefined, boolean][] = [
    ["", labels, true],
    ["", undefined, true],
    ["app=web", labels, true],
    ["app=db", labels, false],
    ["app==web", labels, true],
    ["missing=x", labels, false],
    ["app!=db", labels, true],
    ["app!=web", labels, false],
    ["missing!=x", labels, true],
    ["missing!=x", undefined, true],
    ["app in (db,web)", labels, true],
    ["app in (db)", labels, false],
    ["missing in (x)", labels, false],
    ["app notin (db)", labels, true],
    ["app notin (web)", labels, false],
    ["missing notin (x)", labels, true],
    ["app", labels, true],
    ["missing", labels, false],
    ["missing", undefined, false],
    ["!missing", labels, true],
    ["!app", labels, false],
    ["!app", undefined, true],
    ["example.com/team=a,app,tier in (front)", labels, true],
    ["example.com/team=a,app,tier in (back)", labels, false],
    ["app=", { app: "" }, true],
    ["app in ()", { app: "" }, true],
    ["app in ()", {}, false],
    // inherited object properties are not labels
    ["constructor", {}, false],
    ["!toString", {}, true],
    // gt / lt (Requirement.Matches): the label must be there and parse as an int64, else no match
    ["p>5", { p: "6" }, true],
    ["p>5", { p: "5" }, false],
    ["p<5", { p: "4" }, true],
    ["p<5", { p: "5" }, false],
    ["p>5", { p: "10" }, true], // numbers, not strings: "10" < "5"
    ["p<10", { p: "9" }, true],
    ["p>5", {}, false],
    ["p<5", undefined, false],
    ["p<5", { p: "" }, false],
    ["p<5", { p: "abc" }, false],
    ["p>5", { p: "1e3" }, false],
    ["p>5", { p: "6.5" }, false],
    ["p>5", { p: " 6" }, false],
    ["p>5", { p: "0x10" }, false],
    ["p>5", { p: "6_0" }, false],
    ["p>6", { p: "007" }, true],
    ["p>5", { p: "+6" }, true],
    ["p<0", { p: "-3" }, true],
    ["p<1", { p: "-0" }, true],
    ["p>0", { p: "-0" }, false],
    // out of int64 range: no match either way
    ["p>5", { p: "99999999999999999999" }, false],
    ["p<5", { p: "-99999999999999999999" }, false],
    ["p>5", { p: "9223372036854775808" }, false],
    ["p>9223372036854775806", { p: "9223372036854775807" }, true],
    ["p<9223372036854775807", { p: "9223372036854775807" }, false],
    ["p<0", { p: "-9223372036854775808" }, true],
    // exact beyond 2^53, where doubles round 9007199254740993 to 9007199254740992
    ["p>9007199254740992", { p: "9007199254740993" }, true],
    ["p<9007199254740993", { p: "9007199254740992" }, true],
    ["p>9007199254740993", { p: "9007199254740993" }, false],
    ["p>999999999999998", { p: "999999999999999" }, true],
    ["p>5,p<10", { p: "7" }, true],
    ["p>5,p<10", { p: "10" }, false],
    ["p>5,app=web", { p: "6", app: "web" }, true],
  ];
  it.each(cases)("%j on %j is %s", (sel, l, want) => {
    expect(matchLabels(parseLabelSelector(sel), l)).toBe(want);
  });
});

describe("formatLabelSelector", () => {
  it.each([
    ["", ""],
    ["app==web", "app=web"],
    [" b notin ( y , x ) , a!=1 , !c , d", "a!=1,b notin (x,y),!c,d"],
    ["x in (b,a,a)", "x in (a,b)"],
    ["x=", "x="],
    ["b<10,a>5", "a>5,b<10"],
    ["a > 007", "a>7"],
  ])("%j formats as %j", (input, want) => {
    const s = formatLabelSelector(parseLabelSelector(input));
    expect(s).toBe(want);
    // the canonical form parses back to the same selector
    expect(parseLabelSelector(s)).toEqual(parseLabelSelector(input));
  });
});
