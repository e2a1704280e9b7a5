import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "../../src/config.js";

describe("duration flags", () => {
  it("read Kubernetes-style durations, and a bare number as seconds", () => {
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("600")).toBe(600_000);
  });

  it("print defaults as Go prints a time.Duration, which reads back to the same value", () => {
    const cases: [number, string][] = [
      [0, "0s"],
      [250, "250ms"],
      [2_000, "2s"],
      [60_000, "1m0s"],
      [600_000, "10m0s"],
      [1_800_000, "30m0s"],
      [5_400_000, "1h30m0s"],
    ];
    for (const [ms, text] of cases) {
      expect(formatDuration(ms)).toBe(text);
      expect(parseDuration(text)).toBe(ms);
    }
  });

  it("--help shows duration defaults as durations, never as milliseconds a user would take for seconds", () => {
    const help = spawnSync(process.execPath, ["dist/main.js", "--help"], { encoding: "utf8" }).stdout;
    expect(help).toMatch(/--db-history-window <d>.*\(default: 10m0s\)/);
    expect(help).toMatch(/--request-timeout <d>.*\(default: 1m0s\)/);
    const durationLines = help.split("\n").filter((l) => l.includes("<d>"));
    expect(durationLines.length).toBeGreaterThan(5);
    for (const line of durationLines) expect(line).toMatch(/\(default: (\d+h)?(\d+m)?\d+(ms|s)\)$/);
  });
});
