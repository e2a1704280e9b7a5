import { describe, expect, it } from "vitest";
import { markdownTable, ratioCeiling, serverBudget, type Row } from "../../bench/table.js";
import type { WorkloadResult } from "../../bench/workloads.js";

function result(opsPerSec: number, p50Ms: number, extra: Partial<WorkloadResult> = {}): WorkloadResult {
  return { ops: opsPerSec * 10, errors: 0, elapsedMs: 10_000, opsPerSec, p50Ms, p99Ms: p50Ms * 3, ...extra };
}

const rows: Row[] = [
  {
    workload: "get-6k",
    backend: "memory",
    n: 10_000,
    server: result(1200, 10),
    rssMiB: 150.4,
    serverCores: 0.9,
    clientCores: 0.5,
    serverCpuMsPerOp: 0.75,
    baseServerCpuMsPerOp: 0.5,
    raw: result(3000, 4),
  },
  {
    workload: "update-6k",
    backend: "postgres",
    n: 10_000,
    server: result(400, 30),
    serverCpuMsPerOp: 1.5,
    storeCpuMsPerOp: 2,
    rawStoreCpuMsPerOp: 1,
    baseServerCpuMsPerOp: 1.25,
    othersCpuMsPerOp: 2.5,
    cores: 2,
    raw: result(500, 25, { errors: 2, firstError: "409 Conflict" }),
  },
];

const cells = (line: string) =>
  line
    .split("|")
    .slice(1, -1)
    .map((c) => c.trim());

describe("bench table", () => {
  it("bounds the ratio by what the rest of the machine spends per operation", () => {
    const row = rows[1];
    expect(ratioCeiling(row)).toBeCloseTo(1.6);
    // the rest of the machine twice as busy per operation: half the ceiling
    expect(ratioCeiling({ ...row, othersCpuMsPerOp: 5 })).toBeCloseTo(0.8);
    expect(ratioCeiling({ ...row, cores: 4 })).toBeCloseTo(3.2);
    expect(ratioCeiling({ ...row, othersCpuMsPerOp: undefined })).toBeUndefined();
    expect(ratioCeiling({ ...row, raw: undefined })).toBeUndefined();
  });

  it("says below the table what a missed row leaves the server per operation", () => {
    const missed: Row = { ...rows[1], server: result(200, 30), serverCpuMsPerOp: 6 };
    // half the raw 500/s is 250/s: 4 ms of one core per operation, 8 of two less the others' 2.5
    expect(serverBudget(missed)).toEqual({ machine: 5.5, oneCore: 4 });
    expect(markdownTable([missed]).split("\n")).toContain(
      "- update-6k on postgres at N=10000: for ratio 0.5 the server may spend at most 4.00 ms/op " +
        "(the machine leaves 5.50, one core 4.00); it spent 6.00",
    );
    const crowded: Row = { ...missed, othersCpuMsPerOp: 9 };
    expect(markdownTable([crowded])).toContain(
      "for ratio 0.5 nothing is left for the server (the machine leaves -1.00 ms/op); it spent 6.00",
    );
    // rows that pass, rows without the machine's figure, and --compare get no such line
    expect(markdownTable(rows)).not.toContain("for ratio 0.5");
    expect(markdownTable([missed], { compare: true })).not.toContain("for ratio 0.5");
  });

  it("compares with the raw store by default, marking ratios below 0.5", () => {
    const lines = markdownTable(rows).split("\n");
    expect(lines.slice(0, 2)).toEqual([
      "| workload | backend | N | ops/s | p50 ms | p99 ms | RSS MiB | cores server/client | server CPU ms/op | store CPU ms/op server/raw | raw ops/s | raw p50 ms | ratio | ceiling |",
      "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]);
    const head = cells(lines[0]);
    expect(head.slice(9)).toEqual([
      "store CPU ms/op server/raw",
      "raw ops/s",
      "raw p50 ms",
      "ratio",
      "ceiling",
    ]);
    expect(head).not.toContain("base server CPU ms/op");
    expect(cells(lines[1])).toHaveLength(head.length);
    const get = cells(lines[2]);
    expect(get).toHaveLength(head.length);
    // no machine-wide figure for this row: no ceiling
    expect(get.slice(8)).toEqual(["0.75", "–", "3000", "4.00", "0.40 ✗", "–"]);
    const update = cells(lines[3]);
    // 2 cores' 2,000 ms a second over the others' 2.5 ms per operation: 800/s, 1.6 times the raw 500/s
    expect(update.slice(9)).toEqual(["2.00/1.00", "500", "25.0", "0.80", "1.60"]);
    expect(lines).toContain("- update-6k on postgres at N=10000: raw: 2 errors (409 Conflict)");
  });

  it("with --compare names the other build 'base', adds its server CPU and marks no ratio", () => {
    const lines = markdownTable(rows, { compare: true }).split("\n");
    const head = cells(lines[0]);
    expect(head.slice(9)).toEqual([
      "store CPU ms/op server/base",
      "base ops/s",
      "base p50 ms",
      "base server CPU ms/op",
      "ratio",
    ]);
    expect(cells(lines[1])).toHaveLength(head.length);
    const get = cells(lines[2]);
    expect(get).toHaveLength(head.length);
    expect(get.slice(8)).toEqual(["0.75", "–", "3000", "4.00", "0.50", "0.40"]);
    const update = cells(lines[3]);
    expect(update.slice(9)).toEqual(["2.00/1.00", "500", "25.0", "1.25", "0.80"]);
    expect(lines).toContain("- update-6k on postgres at N=10000: base: 2 errors (409 Conflict)");
  });
});
