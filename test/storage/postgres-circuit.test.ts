import { describe, expect, it } from "vitest";
import { StorageError } from "../../src/storage/interface.js";
import { ConnectionCircuit, isConnectionFailure } from "../../src/storage/postgres/circuit.js";
import { reconnectDelaySeconds } from "../../src/storage/postgres/connection.js";

const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });

describe("the PostgreSQL connection circuit", () => {
  it("lets everything through while the server answers, SQL errors included", () => {
    const c = new ConnectionCircuit({ openMs: 1_000, probeMs: 3_000 });
    expect(c.admit(0)).toBe(false);
    c.settle(Object.assign(new Error("duplicate key"), { code: "23505" }));
    c.settle(new StorageError("Unavailable", "database did not answer within 10 ms"));
    expect(c.admit(1)).toBe(false);
  });

  it("refuses at once after a connection failure, then lets one probe through, and closes on an answer", () => {
    const c = new ConnectionCircuit({ openMs: 1_000, probeMs: 3_000 });
    c.failed(refused, 10_000);
    expect(() => c.admit(10_500)).toThrow(
      expect.objectContaining({ code: "Unavailable", message: expect.stringContaining("ECONNREFUSED") }),
    );
    expect(c.admit(11_000)).toBe(true); // the probe
    expect(() => c.admit(11_100)).toThrow(StorageError); // one probe at a time
    expect(c.admit(14_000)).toBe(true); // a probe that hangs does not hold the rest back forever
    c.settle(undefined);
    expect(c.admit(14_001)).toBe(false);
  });

  it("opens when a query gets no answer by its deadline and nothing else was answered since it was sent", () => {
    const silent = new StorageError("Unavailable", "database did not answer within 1500 ms");
    const c = new ConnectionCircuit({ openMs: 1_000, probeMs: 3_000 });
    c.succeeded(0);
    // a slow statement while others were answered: the server is alive
    c.succeeded(1_000);
    c.timedOut(500, silent, 2_000);
    expect(c.admit(2_001)).toBe(false);
    // silence since the query was sent: frozen or cut off, as good as a lost connection
    c.timedOut(1_500, silent, 3_500);
    expect(() => c.admit(3_600)).toThrow(
      expect.objectContaining({ code: "Unavailable", message: expect.stringContaining("did not answer") }),
    );
    expect(c.admit(4_500)).toBe(true); // then one probe at a time, as after a connection failure
  });

  it("opens again when the probe fails to connect", () => {
    const c = new ConnectionCircuit({ openMs: 1_000, probeMs: 3_000 });
    c.failed(refused, 0);
    expect(c.admit(1_000)).toBe(true);
    c.failed(refused, 1_200);
    expect(() => c.admit(2_000)).toThrow(StorageError);
    expect(c.admit(2_200)).toBe(true);
  });

  it("tells a lost server from a failed statement", () => {
    for (const code of ["ECONNREFUSED", "CONNECTION_CLOSED", "CONNECT_TIMEOUT", "08006", "57P01", "57P03"]) {
      expect(isConnectionFailure({ code }), code).toBe(true);
    }
    for (const code of ["23505", "57014", "40001", undefined]) {
      expect(isConnectionFailure({ code }), String(code)).toBe(false);
    }
  });

  it("retries a lost connection within half a second, however many attempts failed before", () => {
    expect(reconnectDelaySeconds(1)).toBeLessThanOrEqual(0.1);
    expect(reconnectDelaySeconds(50)).toBe(0.5);
  });
});
