// `npm run bench [-- options]`: install and build what a fresh clone lacks, then run the benchmark
// (bench/main.ts through tsx). Not part of `npm test`: it takes minutes and wants a quiet machine.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureBuilt, ensureInstalled } from "./ensure.mjs";
import { MALLOC_ENV } from "./malloc-env.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
ensureInstalled(root);
try {
  ensureBuilt(root);
} catch (err) {
  // A type error elsewhere in the tree still emits JavaScript; measure that build if there is one.
  if (!existsSync(join(root, "dist", "main.js"))) throw err;
  console.error("bench: the build reported errors; measuring the JavaScript it emitted");
}
const tsx = join(root, "node_modules", "tsx", "dist", "cli.mjs");
// The malloc settings the image runs the server with, for every process of the bench (the servers,
// the baselines, the client), so that both sides of each ratio run on the same allocator.
const run = spawnSync(process.execPath, [tsx, join(root, "bench", "main.ts"), ...process.argv.slice(2)], {
  cwd: root,
  stdio: "inherit",
  env: { ...MALLOC_ENV, ...process.env },
});
process.exit(run.status ?? 1);
