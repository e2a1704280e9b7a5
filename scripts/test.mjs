// `npm test`: install what is missing, type-check, lint, check formatting, build, then run every test.
// The tests start their own private PostgreSQL and etcd (installing etcd if needed).
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureInstalled, sh } from "./ensure.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const step = (name, cmd) => {
  console.log(`\n== ${name}`);
  sh(cmd, { cwd: root });
};
try {
  ensureInstalled(root);
  step("typecheck", "npx tsc -p tsconfig.json --noEmit");
  step("lint", "npx eslint .");
  step("format", "npx prettier --check . --log-level warn");
  step("build", "npx tsc -p tsconfig.build.json");
  mkdirSync(join(root, ".tmp"), { recursive: true });
  const results = join(root, ".tmp", "vitest.json");
  rmSync(results, { force: true });
  try {
    step(
      "tests",
      `npx vitest run --reporter=default --reporter=json --outputFile.json=${results} ${process.argv.slice(2).join(" ")}`,
    );
  } finally {
    // One plain closing line that any CI can read.
    if (existsSync(results)) {
      const r = JSON.parse(readFileSync(results, "utf8"));
      console.log(`\n${r.numPassedTests} passed, ${r.numFailedTests} failed`);
    }
  }
} catch {
  process.exit(1);
}
