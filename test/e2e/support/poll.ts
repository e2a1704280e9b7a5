import { expect } from "vitest";
import { get, type Endpoint } from "../../support/http.js";

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` every 20 ms until it returns a value; fails after `timeoutMs`. */
export async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** The sum of a metric's samples whose labels include `labels`, read from /metrics. */
export async function metric(ep: Endpoint, name: string, labels: Record<string, string>): Promise<number> {
  const res = await get(ep, "/metrics");
  expect(res.status, res.body).toBe(200);
  let sum = 0;
  for (const line of res.body.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}
