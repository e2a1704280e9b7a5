import { describe, expect, it } from "vitest";
import { parseDeleteOptions, parseMutationOptions } from "../../src/registry/options.js";
import { rejection } from "../support/status.js";

const q = (s = "") => new URLSearchParams(s);

describe("DeleteOptions, as the API server reads and checks them", () => {
  it("come from the body when there is one, else from the query; never both", () => {
    expect(parseDeleteOptions(q("dryRun=All&propagationPolicy=Orphan"), undefined)).toEqual({
      dryRun: true,
      propagationPolicy: "Orphan",
    });
    expect(
      parseDeleteOptions(q("dryRun=All&gracePeriodSeconds=abc"), { propagationPolicy: "Foreground" }),
    ).toEqual({ dryRun: false, propagationPolicy: "Foreground" });
  });

  it("orphanDependents stands for a policy: true is Orphan, false Background (query or body)", () => {
    expect(parseDeleteOptions(q("orphanDependents=false"), undefined)).toMatchObject({
      orphanDependents: false,
      propagationPolicy: "Background",
    });
    expect(parseDeleteOptions(q(), { orphanDependents: true })).toMatchObject({
      orphanDependents: true,
      propagationPolicy: "Orphan",
    });
  });

  it("422 DeleteOptions for both orphanDependents and a policy, an unknown policy or dry run, all at once", () => {
    const err = rejection(() =>
      parseDeleteOptions(q(), { orphanDependents: true, propagationPolicy: "Sideways", dryRun: ["Some"] }),
    );
    expect(err.code).toBe(422);
    expect(err.message).toBe(
      'DeleteOptions.meta.k8s.io "" is invalid: [propagationPolicy: Invalid value: "Sideways": orphanDependents and deletionPropagation cannot be both set, propagationPolicy: Unsupported value: "Sideways": supported values: "Foreground", "Background", "Orphan", "nil", dryRun: Unsupported value: []string{"Some"}: supported values: "All"]',
    );
  });

  it("the query reads booleans and empty values as the API server's parameter decoder does", () => {
    expect(parseDeleteOptions(q("orphanDependents=False"), undefined).propagationPolicy).toBe("Background");
    expect(parseDeleteOptions(q("orphanDependents=0"), undefined).propagationPolicy).toBe("Background");
    expect(parseDeleteOptions(q("orphanDependents=yes"), undefined).propagationPolicy).toBe("Orphan");
    expect(rejection(() => parseDeleteOptions(q("propagationPolicy="), undefined)).message).toBe(
      'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "": supported values: "Foreground", "Background", "Orphan", "nil"',
    );
  });

  it.each([
    [
      { dryRun: "All" },
      "json: cannot unmarshal string into Go struct field DeleteOptions.dryRun of type []string",
    ],
    [
      { dryRun: ["All", 1] },
      "json: cannot unmarshal number into Go struct field DeleteOptions.dryRun of type string",
    ],
    [
      { preconditions: { resourceVersion: 5 } },
      "json: cannot unmarshal number into Go struct field Preconditions.preconditions.resourceVersion of type string",
    ],
    [
      { preconditions: "x" },
      "json: cannot unmarshal string into Go struct field DeleteOptions.preconditions of type Preconditions",
    ],
    [
      { propagationPolicy: 5 },
      "json: cannot unmarshal number into Go struct field DeleteOptions.propagationPolicy of type string",
    ],
    [
      { gracePeriodSeconds: 1.5 },
      "json: cannot unmarshal number 1.5 into Go struct field DeleteOptions.gracePeriodSeconds of type int64",
    ],
    [
      { orphanDependents: "true" },
      "json: cannot unmarshal string into Go struct field DeleteOptions.orphanDependents of type bool",
    ],
    [{ kind: "Pod", apiVersion: "v1" }, 'no kind "Pod" is registered for version "v1"'],
  ])(
    "a body field of the wrong type fails the whole delete with 400 (%j), never dropped",
    (body, message) => {
      const err = rejection(() => parseDeleteOptions(q(), body));
      expect(err.code).toBe(400);
      expect(err.message).toBe(message);
    },
  );

  it("null leaves a field unset, and unknown fields are ignored, as the decoder does", () => {
    expect(
      parseDeleteOptions(q(), {
        dryRun: null,
        preconditions: { uid: null },
        extra: 1,
        kind: "DeleteOptions",
      }),
    ).toEqual({ dryRun: false, preconditions: { uid: undefined, resourceVersion: undefined } });
  });

  it("a gracePeriodSeconds in the query that is no integer is a 400", () => {
    expect(rejection(() => parseDeleteOptions(q("gracePeriodSeconds=abc"), undefined)).code).toBe(400);
  });
});

describe("create, update and patch options", () => {
  it("a field manager must be printable and at most 128 bytes", () => {
    const err = rejection(() => parseMutationOptions(q("fieldManager=a%07b"), undefined, "PatchOptions"));
    expect(err.code).toBe(422);
    expect(err.message).toBe(
      'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Invalid value: "a\\ab": invalid character U+0007 (at position 1)',
    );
    // any unprintable rune is quoted as Go's %q quotes it
    expect(
      rejection(() => parseMutationOptions(q("fieldManager=a%E2%80%8Bb"), undefined, "PatchOptions")).message,
    ).toBe(
      'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Invalid value: "a\\u200bb": invalid character U+200B (at position 1)',
    );
    const long = rejection(() =>
      parseMutationOptions(q(`fieldManager=${"é".repeat(65)}`), undefined, "UpdateOptions"),
    );
    expect(long.message).toBe(
      'UpdateOptions.meta.k8s.io "" is invalid: fieldManager: Too long: may not be more than 128 bytes',
    );
    expect(
      parseMutationOptions(q("fieldManager=kyverno%20admission"), undefined, "CreateOptions").manager,
    ).toBe("kyverno admission");
  });
});
