// `npm start`: from a fresh clone, install, build, and run the server on the in-memory backend.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { ensureBuilt, ensureInstalled } from "./ensure.mjs";
import { MALLOC_ENV } from "./malloc-env.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
ensureInstalled(root);
ensureBuilt(root);
const kubeconfig = join(root, ".local", "kubeconfig");
const args = [
  join(root, "bin", "reports-server"),
  "--storage-backend=memory",
  `--secure-port=${process.env.PORT ?? 4443}`,
  "--bind-address=127.0.0.1",
  `--cert-dir=${join(root, ".local", "certs")}`,
  `--write-kubeconfig=${kubeconfig}`,
  "--log-format=text",
  ...process.argv.slice(2),
];
console.log(
  `\nreports-server starting; when it says "serving", in another shell:\n\n  export KUBECONFIG=${kubeconfig}\n  kubectl get polr -A\n`,
);
const child = spawn(process.execPath, args, { stdio: "inherit", env: { ...MALLOC_ENV, ...process.env } });
for (const s of ["SIGINT", "SIGTERM"]) process.on(s, () => child.kill(s));
child.on("exit", (code) => process.exit(code ?? 0));
