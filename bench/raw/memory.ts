import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../../test/support/server.js";
import { createClient, type ClientOptions } from "../client.js";
import { HttpTarget } from "../http-target.js";
import type { Subject } from "../subject.js";

const SCRIPT = fileURLToPath(new URL("./memory-server.ts", import.meta.url));

/** Starts the bare HTTPS baseline in its own process and returns a target speaking to it. */
export async function startRawMemory(
  client: Pick<ClientOptions, "transport" | "connections">,
): Promise<Subject> {
  const dir = mkdtempSync(join(tmpdir(), "reports-bench-raw-"));
  const token = randomBytes(24).toString("base64url");
  writeFileSync(join(dir, "admin.token"), token, { mode: 0o600 });
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", SCRIPT, String(port), dir], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the memory baseline did not start in 30 s")), 30_000);
    child.stdout?.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => reject(new Error(`the memory baseline exited (${code})`)));
  });
  const http = createClient({
    ...client,
    url: `https://127.0.0.1:${port}`,
    ca: readFileSync(join(dir, "ca.crt"), "utf8"),
    token,
  });
  return {
    target: new HttpTarget("bare HTTPS + Map", http),
    pid: child.pid,
    async stop() {
      http.close();
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      process.removeListener("exit", killOnExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
