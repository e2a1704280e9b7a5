import { describe, expect, it } from "vitest";
import { decodeContinue, encodeContinue } from "../../src/apimachinery/continue.js";
import { formatResourceVersion, parseResourceVersion } from "../../src/apimachinery/resourceversion.js";
import { rejection } from "../support/status.js";

const b64 = (s: string): string => Buffer.from(s).toString("base64url");

describe("continue tokens", () => {
  it("encodes exactly as kube-apiserver (etcd3) does", () => {
    const token = encodeContinue({
      resourceVersion: 720507,
      after: { namespace: "kube-system", name: "r-1" },
    });
    expect(token).not.toMatch(/[=+/]/);
    expect(Buffer.from(token, "base64url").toString()).toBe(
      '{"v":"meta.k8s.io/v1","rv":720507,"start":"kube-system/r-1\\u0000"}',
    );
  });

  it.each([
    { resourceVersion: 1, after: { namespace: "", name: "cluster-report" } },
    { resourceVersion: 42, after: { namespace: "ns", name: "a.b-c" } },
    { resourceVersion: Number.MAX_SAFE_INTEGER, after: { namespace: "x", name: "y" } },
    // what a 410 for an expired token hands back: go on at the latest state
    { resourceVersion: -1, after: { namespace: "ns", name: "c3" } },
  ])("round-trips %j", (t) => {
    expect(decodeContinue(encodeContinue(t))).toEqual(t);
  });

  it("decodes a real server's token", () => {
    // What kube-apiserver returns for `kubectl get polr -A --chunk-size=1` after kube-system/pod-a.
    const token = b64('{"v":"meta.k8s.io/v1","rv":5000,"start":"kube-system/pod-a\\u0000"}');
    expect(decodeContinue(token)).toEqual({
      resourceVersion: 5000,
      after: { namespace: "kube-system", name: "pod-a" },
    });
  });

  const garbage: [string, string][] = [
    ["not base64!", "continue key is not valid: illegal base64 data at input byte 3"],
    ["abcde", "continue key is not valid: illegal base64 data at input byte 4"],
    ["eyJ2Ijo=", "continue key is not valid: illegal base64 data at input byte 7"],
    [
      b64("[]"),
      "continue key is not valid: json: cannot unmarshal array into Go value of type storage.continueToken",
    ],
    [
      b64('{"v":"meta.k8s.io/v1","rv":"5","start":"a"}'),
      "continue key is not valid: json: cannot unmarshal string into Go struct field continueToken.rv of type int64",
    ],
    [
      b64('{"v":"meta.k8s.io/v1","rv":1.5,"start":"a"}'),
      "continue key is not valid: json: cannot unmarshal number 1.5 into Go struct field continueToken.rv of type int64",
    ],
    [
      b64('{"v":"meta.k8s.io/v2","rv":5,"start":"a"}'),
      "continue key is not valid: server does not recognize this encoded version meta.k8s.io/v2",
    ],
    [
      b64('{"rv":5,"start":"a"}'),
      "continue key is not valid: server does not recognize this encoded version ",
    ],
    [
      b64('{"v":"meta.k8s.io/v1","start":"a"}'),
      "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
    ],
    [
      b64('{"v":"meta.k8s.io/v1","rv":5,"start":""}'),
      "continue key is not valid: encoded start key empty (version meta.k8s.io/v1)",
    ],
    [b64('{"v":"meta.k8s.io/v1","rv":5,"start":"../secrets/x"}'), "continue key is not valid: ../secrets/x"],
    [b64('{"v":"meta.k8s.io/v1","rv":5,"start":"a//b"}'), "continue key is not valid: a//b"],
    [b64('{"v":"meta.k8s.io/v1","rv":5,"start":"a/b/c"}'), "continue key is not valid: a/b/c"],
  ];
  it.each(garbage)("rejects %j", (token, why) => {
    const err = rejection(() => decodeContinue(token));
    expect(err.code).toBe(400);
    expect(err.reason).toBe("BadRequest");
    expect(err.message).toBe(`invalid continue token: ${why}`);
  });

  it("rejects JSON that is not JSON", () => {
    const err = rejection(() => decodeContinue(b64("{nope")));
    expect(err.message).toMatch(/^invalid continue token: continue key is not valid: /);
  });
});

describe("resource versions", () => {
  it.each([
    [undefined, undefined],
    ["", undefined],
    ["0", 0],
    ["1", 1],
    ["007", 7],
    ["9007199254740991", 9007199254740991],
  ])("parses %j as %j", (s, want) => {
    expect(parseResourceVersion(s)).toBe(want);
  });

  it.each([
    ["abc", "invalid syntax"],
    ["-1", "invalid syntax"],
    ["+1", "invalid syntax"],
    ["1.5", "invalid syntax"],
    [" 1", "invalid syntax"],
    ["99999999999999999999", "value out of range"],
  ])("rejects %j", (s, reason) => {
    const err = rejection(() => parseResourceVersion(s));
    expect(err.code).toBe(400);
    expect(err.message).toBe(
      `invalid resource version: resourceVersion: Invalid value: "${s}": strconv.ParseUint: parsing "${s}": ${reason}`,
    );
  });

  it("names the field it was given", () => {
    expect(rejection(() => parseResourceVersion("x", "metadata.resourceVersion")).message).toContain(
      "metadata.resourceVersion: Invalid value",
    );
  });

  it("formats as a decimal string", () => {
    expect(formatResourceVersion(0)).toBe("0");
    expect(formatResourceVersion(720507)).toBe("720507");
    expect(parseResourceVersion(formatResourceVersion(123456789))).toBe(123456789);
  });
});
