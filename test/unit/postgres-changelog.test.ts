import { describe, expect, it } from "vitest";
import { copyPrevAfterSeconds } from "../../src/storage/postgres/changelog.js";
import { arrayLiteral } from "../../src/storage/postgres/codec.js";

describe("copyPrevAfterSeconds", () => {
  it("is half the history window when a statement fits well inside the other half", () => {
    expect(copyPrevAfterSeconds(600, 10_000)).toBe(300);
    expect(copyPrevAfterSeconds(60, 5_000)).toBe(30);
    expect(copyPrevAfterSeconds(31, 10_000)).toBe(15);
  });

  it("is 0 (always copy) when a pruner could remove a version before a write that saw it young commits", () => {
    expect(copyPrevAfterSeconds(29, 10_000)).toBe(0);
    expect(copyPrevAfterSeconds(2, 500)).toBe(0);
    expect(copyPrevAfterSeconds(600, 600_000)).toBe(0);
  });
});

describe("arrayLiteral", () => {
  it("quotes every element and escapes quotes and backslashes", () => {
    expect(arrayLiteral([])).toBe("{}");
    expect(arrayLiteral(["wgpolicyk8s.io/policyreports", "1"])).toBe('{"wgpolicyk8s.io/policyreports","1"}');
    expect(arrayLiteral(['a"b', "c\\d", "e,f", "NULL"])).toBe('{"a\\"b","c\\\\d","e,f","NULL"}');
  });
});
