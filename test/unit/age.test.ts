import { describe, expect, it } from "vitest";
import { humanAge, humanDuration, parseRfc3339 } from "../../src/apimachinery/age.js";

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;
const Y = 365 * D;

describe("humanDuration (k8s.io/apimachinery/pkg/util/duration.HumanDuration)", () => {
  // The cases of duration_test.go, plus the boundaries of every branch.
  it.each([
    [-2 * S, "<invalid>"],
    [-1999, "0s"],
    [-1 * S, "0s"],
    [0, "0s"],
    [999, "0s"],
    [1 * S, "1s"],
    [59 * S, "59s"],
    [60 * S, "60s"],
    [119 * S, "119s"],
    [2 * M, "2m"],
    [2 * M + 1 * S, "2m1s"],
    [5 * M + 30 * S, "5m30s"],
    [9 * M + 59 * S, "9m59s"],
    [10 * M, "10m"],
    [10 * M + 59 * S, "10m"],
    [179 * M, "179m"],
    [3 * H, "3h"],
    [3 * H + 1 * M, "3h1m"],
    [7 * H + 59 * M, "7h59m"],
    [8 * H, "8h"],
    [47 * H + 59 * M, "47h"],
    [48 * H, "2d"],
    [48 * H + 1 * H, "2d1h"],
    [7 * D + 23 * H, "7d23h"],
    [8 * D, "8d"],
    [2 * Y - 1 * D, "729d"],
    [2 * Y, "2y"],
    [2 * Y + 10 * D, "2y10d"],
    [8 * Y - 1 * D, "7y364d"],
    [8 * Y, "8y"],
    [100 * Y, "100y"],
  ])("%d ms is %s", (ms, want) => {
    expect(humanDuration(ms)).toBe(want);
  });
});

describe("parseRfc3339", () => {
  it.each([
    ["2023-12-06T13:19:03Z", Date.UTC(2023, 11, 6, 13, 19, 3)],
    ["2023-12-06T13:19:03.5Z", Date.UTC(2023, 11, 6, 13, 19, 3, 500)],
    ["2023-12-06T15:19:03+02:00", Date.UTC(2023, 11, 6, 13, 19, 3)],
    ["2023-12-06T10:49:03-02:30", Date.UTC(2023, 11, 6, 13, 19, 3)],
    ["2024-02-29T00:00:00Z", Date.UTC(2024, 1, 29)],
    ["2000-02-29T23:59:59Z", Date.UTC(2000, 1, 29, 23, 59, 59)],
    ["1969-12-31T23:59:59Z", -1000],
    ["2023-12-06T13:19:03.123456789Z", Date.UTC(2023, 11, 6, 13, 19, 3) + 123.456789],
    ["0001-01-01T00:00:00Z", -62135596800000],
  ])("parses %s", (s, want) => {
    expect(parseRfc3339(s)).toBeCloseTo(want, 3);
  });

  it.each([
    "",
    "2023-12-06",
    "2023-12-06 13:19:03Z",
    "2023-12-06t13:19:03Z",
    "2023-12-06T13:19:03",
    "2023-12-06T13:19:03z",
    "2023-12-06T13:19:03.Z",
    "2023-12-06T13:19:03+0200",
    "2023-12-06T13:19:03Z ",
    "1900-02-29T00:00:00Z",
    "2023-13-06T13:19:03Z",
    "2023-02-29T00:00:00Z",
    "2023-12-06T24:00:00Z",
    "1701868762",
  ])("rejects %j", (s) => {
    expect(parseRfc3339(s)).toBeUndefined();
  });
});

describe("humanAge (date cells)", () => {
  const now = Date.UTC(2023, 11, 6, 14, 19, 3);
  it.each([
    ["2023-12-06T13:19:03Z", "60m"],
    ["2023-12-06T14:14:03Z", "5m"],
    ["2023-12-06T14:19:00Z", "3s"],
    ["2023-12-06T14:19:04Z", "0s"],
    ["2023-12-06T14:19:06Z", "<invalid>"],
    ["2020-01-01T00:00:00Z", "3y340d"],
    ["", "<unknown>"],
    ["null", "<unknown>"],
    ["0001-01-01T00:00:00Z", "<unknown>"],
    ["yesterday", "<invalid>"],
  ])("%j is %s", (ts, want) => {
    expect(humanAge(ts, now)).toBe(want);
  });
});
