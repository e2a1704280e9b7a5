import { describe, expect, it } from "vitest";
import { ReadBatcher } from "../../src/storage/read-batch.js";

/** A batcher over a map, recording every batch it was asked for. */
function batcher(values: Map<string, number>, maxBatch = 100) {
  const batches: string[][] = [];
  const reads = new ReadBatcher<string, number>(
    (keys) => {
      batches.push(keys);
      return Promise.resolve(keys.map((k) => values.get(k)));
    },
    (k) => k,
    maxBatch,
  );
  return { reads, batches };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe("ReadBatcher", () => {
  it("reads the keys asked for in one turn in one batch, each asked once, each answered its own", async () => {
    const { reads, batches } = batcher(
      new Map([
        ["a", 1],
        ["b", 2],
      ]),
    );
    const answers = await Promise.all(["a", "b", "missing", "a"].map((k) => reads.load(k)));
    expect(answers).toEqual([1, 2, undefined, 1]);
    expect(batches).toEqual([["a", "b", "missing"]]);
  });

  it("gathers keys asked from later callbacks of the same turn, and starts again in the next", async () => {
    const { reads, batches } = batcher(new Map([["a", 1]]));
    const first = reads.load("a");
    // a microtask, as an await before the read is
    const second = Promise.resolve().then(() => reads.load("b"));
    expect(await Promise.all([first, second])).toEqual([1, undefined]);
    await turn();
    expect(await reads.load("a")).toBe(1);
    expect(batches).toEqual([["a", "b"], ["a"]]);
  });

  it("sends a full batch at once and keeps the rest for the next", async () => {
    const { reads, batches } = batcher(new Map(), 2);
    const answers = Promise.all(["a", "b", "c", "d", "e"].map((k) => reads.load(k)));
    // the two full batches left before the turn ended
    expect(batches).toEqual([
      ["a", "b"],
      ["c", "d"],
    ]);
    await answers;
    expect(batches).toEqual([["a", "b"], ["c", "d"], ["e"]]);
  });

  it("fails every read of a batch when its request fails, and only that batch", async () => {
    let calls = 0;
    const reads = new ReadBatcher<string, string>(
      (keys) => {
        calls++;
        if (calls === 1) return Promise.reject(new Error("store away"));
        if (calls === 2) throw new Error("thrown at once");
        return Promise.resolve(keys);
      },
      (k) => k,
      10,
    );
    const failed = await Promise.allSettled([reads.load("a"), reads.load("b"), reads.load("a")]);
    expect(failed.map((r) => r.status === "rejected" && String(r.reason))).toEqual([
      "Error: store away",
      "Error: store away",
      "Error: store away",
    ]);
    await expect(reads.load("c")).rejects.toThrow("thrown at once");
    expect(await reads.load("d")).toBe("d");
  });
});
