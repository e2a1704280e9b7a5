import type { IEvent } from "etcd3";
import { describe, expect, it } from "vitest";
import { EventRing } from "../../src/storage/etcd/ring.js";

/** An event whose buffers are views into one larger buffer, as the etcd client hands them out. */
function received(revision: number, value: string, prev?: string): IEvent {
  const message = Buffer.alloc(8192);
  const key = message.subarray(0, message.write("/reports-server/default/g/r/ns/name"));
  const at = key.length;
  const v = message.subarray(at, at + message.write(value, at));
  const p = prev === undefined ? undefined : message.subarray(4096, 4096 + message.write(prev, 4096));
  const kv = (val: Buffer, rev: number) => ({
    key,
    value: val,
    create_revision: "1",
    mod_revision: String(rev),
    version: "1",
    lease: "0",
  });
  return { type: "Put", kv: kv(v, revision), prev_kv: p && kv(p, revision - 1) } as unknown as IEvent;
}

describe("etcd watch cache ring", () => {
  it("keeps copies of an event's buffers, never the message buffer they were views into", () => {
    const ring = new EventRing(0, 1 << 20);
    ring.push(received(5, '{"a":1}', '{"a":0}'), 5);
    const [entry] = ring.since(0) ?? [];
    const { kv, prev_kv: prev } = entry.event;
    for (const buf of [kv.key, kv.value, prev.value]) expect(buf.buffer.byteLength).toBe(buf.length);
    expect(kv.value.toString()).toBe('{"a":1}');
    expect(prev.value.toString()).toBe('{"a":0}');
    expect(kv.key.toString()).toBe("/reports-server/default/g/r/ns/name");
  });

  it("evicts the oldest beyond its bound and says from where it holds every change", () => {
    const ring = new EventRing(10, 3000);
    for (let rev = 11; rev <= 20; rev++) ring.push(received(rev, "x".repeat(500)), rev);
    expect(ring.newest).toBe(20);
    expect(ring.floor).toBeGreaterThan(10);
    expect(ring.since(ring.floor - 1)).toBeUndefined();
    const held = ring.since(ring.floor) ?? [];
    expect(held.map((e) => e.revision)).toEqual(
      Array.from({ length: 20 - ring.floor }, (_, i) => ring.floor + 1 + i),
    );
  });
});
