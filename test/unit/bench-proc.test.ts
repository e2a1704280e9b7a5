import { cpus } from "node:os";
import { describe, expect, it } from "vitest";
import { machineBusySeconds } from "../../bench/proc.js";

describe("bench: the machine's busy time", () => {
  it("counts at least what this process burns and at most every core's wall time", () => {
    const before = machineBusySeconds();
    const own0 = process.cpuUsage();
    const t0 = performance.now();
    let x = 0;
    while (performance.now() - t0 < 300) x += Math.sqrt(x + 1);
    expect(x).toBeGreaterThan(0);
    const wall = (performance.now() - t0) / 1000;
    const own = process.cpuUsage(own0);
    const after = machineBusySeconds();
    expect(before).toBeDefined();
    const busy = after! - before!;
    // /proc/stat counts in ticks of 10 ms
    expect(busy).toBeGreaterThanOrEqual((own.user + own.system) / 1e6 - 0.03);
    expect(busy).toBeLessThanOrEqual(wall * cpus().length + 0.03);
  });
});
