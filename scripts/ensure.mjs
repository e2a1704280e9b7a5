// Shared by `npm start` and `npm test`: install packages and build when the checkout needs it.
import { execSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

export function sh(cmd, opts = {}) {
  execSync(cmd, { stdio: "inherit", ...opts });
}

export function ensureInstalled(root) {
  const lock = join(root, "package-lock.json");
  const marker = join(root, "node_modules", ".package-lock.json");
  if (!existsSync(marker) || statSync(marker).mtimeMs < statSync(lock).mtimeMs) {
    sh("npm ci --no-audit --no-fund", { cwd: root });
  }
}

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

export function ensureBuilt(root) {
  const main = join(root, "dist", "main.js");
  if (!existsSync(main) || statSync(main).mtimeMs < newest(join(root, "src"))) {
    sh("npx tsc -p tsconfig.build.json", { cwd: root });
  }
}
