// `npm test`: install what is missing, type-check, lint, check formatting, build, then run every test.
// The tests start their own private PostgreSQL and etcd (installing etcd if needed).
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
  step("tests", `npx vitest run ${process.argv.slice(2).join(" ")}`);
} catch {
  process.exit(1);
}
