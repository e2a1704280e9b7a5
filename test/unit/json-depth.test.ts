import { describe, expect, it } from "vitest";
import { jsonNestsDeeperThan } from "../../src/apimachinery/json-depth.js";

describe("how deep a JSON body nests", () => {
  const nested = (n: number) => `{"a":${"[".repeat(n - 1)}${"]".repeat(n - 1)}}`;

  it("counts objects and arrays, up to and past the limit", () => {
    expect(jsonNestsDeeperThan(nested(1000))).toBe(false);
    expect(jsonNestsDeeperThan(nested(1001))).toBe(true);
    expect(jsonNestsDeeperThan(nested(5), 4)).toBe(true);
    expect(jsonNestsDeeperThan(`[${"[],".repeat(3000)}[]]`)).toBe(false);
  });

  it("does not count brackets inside strings, escaped quotes included", () => {
    const s = JSON.stringify({ m: `a\\"${"[".repeat(3000)}\\\\`, n: '"{{{{' });
    expect(jsonNestsDeeperThan(s, 3)).toBe(false);
    expect(jsonNestsDeeperThan(`{"k":"${"[".repeat(3000)}","d":[[[[1]]]]}`, 4)).toBe(true);
  });
});
