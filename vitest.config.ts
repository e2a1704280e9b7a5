import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    // expect.poll's 1 s default is short for a round trip on a loaded 2-core machine; a poll that
    // needs a tighter bound says so itself
    expect: { poll: { timeout: 5_000 } },
  },
});
