import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeObject } from "../../../src/apimachinery/types.js";
import { APISERVICES, LEASES } from "../../support/fake-kube-apiserver.js";
import { eventually, startClusterServer, startStandIn, type ClusterServer, type StandIn } from "./support.js";

// Long enough that a replica stalled on a loaded machine (its renewals to the stand-in late) does
// not step down and hand over while it is alive.
const LEASE_MS = 4_000;
const LEADER_FLAGS = [
  `--leader-elect-lease-duration=${LEASE_MS}ms`,
  "--leader-elect-renew-deadline=3000ms",
  "--leader-elect-retry-period=250ms",
];
const APISERVICE = "v1alpha2.wgpolicyk8s.io";

type Lease = KubeObject & { spec: { holderIdentity?: string; leaseTransitions?: number } };

describe("cluster mode: two replicas, one leader (Lease hand-over)", () => {
  let standIn: StandIn;
  let replicas: ClusterServer[] = [];

  beforeAll(async () => {
    standIn = await startStandIn();
    // Replicas of one Deployment share the serving certificate (its Secret), so the caBundle agrees.
    const certDir = `${standIn.dir}/shared-certs`;
    const first = await startClusterServer({ standIn, certDir, args: LEADER_FLAGS });
    const second = await startClusterServer({ standIn, certDir, args: LEADER_FLAGS });
    replicas = [first, second];
  }, 60_000);
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await standIn?.stop();
  }, 30_000);

  const lease = () => standIn.fake.getObject(LEASES, "reports-server", "reports-server") as Lease | undefined;
  const identityOf = (r: ClusterServer): string | undefined =>
    r.logRecords("became leader").at(-1)?.identity as string | undefined;
  const putBackBy = (r: ClusterServer) =>
    r.logRecords("APIService put back").filter((rec) => rec.apiService === APISERVICE).length;
  const tamper = () => {
    const a = standIn.fake.getObject(APISERVICES, "", APISERVICE)!;
    standIn.fake.putObject(APISERVICES, {
      ...a,
      spec: { ...(a.spec as object), service: { namespace: "kube-system", name: "someone-else", port: 443 } },
    });
  };
  const pointsAtUs = () => {
    const a = standIn.fake.getObject(APISERVICES, "", APISERVICE) as
      (KubeObject & { spec: { service?: { name?: string } } }) | undefined;
    return a?.spec.service?.name === "reports-server" ? true : undefined;
  };

  let leader: ClusterServer;
  let follower: ClusterServer;

  it("exactly one replica holds the Lease and reconciles the APIServices", async () => {
    const holder = await eventually(
      "a Lease holder",
      10_000,
      () => lease()?.spec.holderIdentity || undefined,
    );
    await eventually("the APIService points at us", 10_000, pointsAtUs);
    // Several renewals later, still one leader.
    await new Promise((r) => setTimeout(r, 3 * 250 + LEASE_MS / 2));
    const leaders = replicas.filter((r) => identityOf(r) !== undefined);
    expect(leaders).toHaveLength(1);
    [leader] = leaders;
    follower = replicas.find((r) => r !== leader)!;
    expect(identityOf(leader)).toBe(holder);
    expect(lease()?.spec.holderIdentity).toBe(holder);

    tamper();
    await eventually("the leader puts the APIService back", 10_000, pointsAtUs);
    await eventually("the leader logs it", 5_000, () => (putBackBy(leader) > 0 ? true : undefined));
    expect(putBackBy(leader)).toBe(1);
    expect(putBackBy(follower)).toBe(0);
  });

  it("when the leader dies, the other replica takes over within the lease duration and reconciles", async () => {
    const transitions = lease()?.spec.leaseTransitions ?? 0;
    const killedAt = Date.now();
    await leader.kill();
    const successor = await eventually("a new Lease holder", 10_000, () => {
      const h = lease()?.spec.holderIdentity;
      return h && h !== identityOf(leader) ? h : undefined;
    });
    const tookMs = Date.now() - killedAt;
    // The lease runs out at most LEASE_MS after the last renewal before the kill; the rest is the
    // follower's retry period and a loaded machine.
    expect(tookMs).toBeLessThan(LEASE_MS + 3_000);
    // Its log line may reach us a moment after the Lease write reached the stand-in.
    await eventually("the successor is the other replica", 5_000, () =>
      identityOf(follower) === successor ? true : undefined,
    );
    expect(lease()?.spec.leaseTransitions).toBe(transitions + 1);

    tamper();
    await eventually("the new leader puts the APIService back", 10_000, pointsAtUs);
    await eventually("the new leader logs it", 5_000, () => (putBackBy(follower) > 0 ? true : undefined));
    expect(putBackBy(follower)).toBe(1);
    expect(putBackBy(leader)).toBe(1);
    expect(follower.exited()).toBe(false);
  });
});
