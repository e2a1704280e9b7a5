import { describe, expect, it } from "vitest";
import { arrayLiteral } from "../../src/storage/postgres/codec.js";

describe("arrayLiteral", () => {
  it("quotes every element and escapes quotes and backslashes", () => {
    expect(arrayLiteral([])).toBe("{}");
    expect(arrayLiteral(["wgpolicyk8s.io/policyreports", "1"])).toBe('{"wgpolicyk8s.io/policyreports","1"}');
    expect(arrayLiteral(['a"b', "c\\d", "e,f", "NULL"])).toBe('{"a\\"b","c\\\\d","e,f","NULL"}');
  });
});
