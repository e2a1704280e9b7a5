import { describe, expect, it } from "vitest";
import { recordedWarnings, warningHeaders } from "../../src/endpoints/respond.js";

describe("Warning headers, as k8s.io/apiserver's recorder keeps them", () => {
  it("keeps each text once, in order, while they fit in 4,096 runes", () => {
    expect(recordedWarnings(["a", "b", "a", "c"])).toEqual(["a", "b", "c"]);
    const fits = Array.from({ length: 16 }, (_, i) => `${i}`.padEnd(256, "x"));
    expect(recordedWarnings(fits)).toEqual(fits);
  });

  it("past 4,096 runes cuts every warning to 256 runes, then drops the rest", () => {
    const long = (i: number) => `unknown field "results[${i}].extra"`.padEnd(300, "y");
    const many = Array.from({ length: 5000 }, (_, i) => long(i));
    const kept = recordedWarnings(many);
    expect(kept.every((w) => [...w].length === 256)).toBe(true);
    expect(kept[0]).toBe(long(0).slice(0, 256));
    // the replayed ones, then new ones until the cut texts pass 4,096 runes
    expect(kept).toHaveLength(Math.ceil(4096 / 256));
    expect(warningHeaders(many).join("").length).toBeLessThan(6 * 1024);
  });

  it("counts runes, not bytes, and cuts on a rune boundary", () => {
    const wide = "日".repeat(300);
    const kept = recordedWarnings([..."abcdefghijklmno"].map((c) => c + wide));
    expect([...kept[0]]).toHaveLength(256);
    expect(kept[0].startsWith("a日")).toBe(true);
  });
});
