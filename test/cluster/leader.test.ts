import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { createLeaderElector, type LeaderElector } from "../../src/cluster/leader.js";
import { KubeClient } from "../../src/cluster/kubeclient.js";
import { makeTestPki, type TestPki } from "../support/certs.js";
import { FakeKubeApiServer, LEASES } from "../support/fake-kube-apiserver.js";

// A lease long enough that a stall of the test process (GC, a loaded machine) does not let the
// follower take it from a leader that is alive.
const timing = { leaseDurationMs: 3_000, renewDeadlineMs: 2_500, retryPeriodMs: 200 };

describe("leader election on a Lease", () => {
  let pki: TestPki;
  let fake: FakeKubeApiServer;
  let client: KubeClient;
  const electors: LeaderElector[] = [];

  beforeAll(async () => {
    pki = await makeTestPki();
    fake = await new FakeKubeApiServer({ serving: pki.serving }).start();
    client = new KubeClient(fake.connection(pki.servingCa.cert));
  });
  afterAll(async () => {
    await Promise.all(electors.map((e) => e.stop({ release: false })));
    client.close();
    await fake.stop();
  });

  function replica(name: string, lease: string, events: string[]) {
    const e = createLeaderElector({
      client,
      namespace: "reports",
      name: lease,
      identity: name,
      ...timing,
      onStartedLeading: (signal) => {
        events.push(`${name} started`);
        signal.addEventListener("abort", () => events.push(`${name} work stopped`));
      },
      onStoppedLeading: () => events.push(`${name} stopped`),
    });
    electors.push(e);
    return e;
  }

  const holder = (lease: string) =>
    fake.getObject(LEASES, "reports", lease)?.spec as Record<string, unknown> | undefined;

  it("one of two replicas leads; on a clean stop the other takes over at once", async () => {
    const events: string[] = [];
    const a = replica("a", "handover", events);
    const b = replica("b", "handover", events);
    a.start();
    await expect.poll(() => a.isLeader()).toBe(true);
    b.start();
    // b keeps trying while a renews, for longer than a lease
    await new Promise((r) => setTimeout(r, 4_000));
    expect(b.isLeader()).toBe(false);
    expect(holder("handover")).toMatchObject({
      holderIdentity: "a",
      leaseDurationSeconds: 3,
      leaseTransitions: 0,
    });

    const stoppedAt = Date.now();
    await a.stop();
    expect(events).toEqual(["a started", "a work stopped", "a stopped"]);
    await expect.poll(() => b.isLeader(), { timeout: 3_000 }).toBe(true);
    // released, so b need not wait for the lease to expire
    expect(Date.now() - stoppedAt).toBeLessThan(1_000);
    expect(holder("handover")).toMatchObject({ holderIdentity: "b", leaseTransitions: 1 });
    await b.stop();
    expect(holder("handover")?.holderIdentity).toBeUndefined();
  });

  it("takes over from a replica that died, after the lease expired", async () => {
    const events: string[] = [];
    const a = replica("a", "crash", events);
    const b = replica("b", "crash", events);
    a.start();
    await expect.poll(() => a.isLeader()).toBe(true);
    b.start();
    // taken before the stop, which may wait for a renewal in flight (a renewal after it would only
    // move the expiry later)
    const diedAt = Date.now();
    await a.stop({ release: false }); // as if the pod was killed
    await expect.poll(() => b.isLeader(), { timeout: 10_000 }).toBe(true);
    // not before the lease, last renewed at most one retry period before the stop, expired
    expect(Date.now() - diedAt).toBeGreaterThanOrEqual(3_000 - 200);
    expect(holder("crash")).toMatchObject({ holderIdentity: "b", leaseTransitions: 1 });
    await b.stop();
  });

  it("steps down when another holder took the lease", async () => {
    const events: string[] = [];
    const a = replica("a", "stolen", events);
    a.start();
    await expect.poll(() => a.isLeader()).toBe(true);
    const lease = fake.getObject(LEASES, "reports", "stolen");
    fake.putObject(LEASES, {
      ...lease!,
      spec: {
        ...(lease!.spec as object),
        holderIdentity: "intruder",
        leaseDurationSeconds: 30,
        renewTime: new Date().toISOString(),
      },
    });
    await expect.poll(() => a.isLeader(), { timeout: 3_000 }).toBe(false);
    expect(events).toEqual(["a started", "a work stopped", "a stopped"]);
    await a.stop();
    expect(holder("stolen")?.holderIdentity).toBe("intruder");
  });
});
