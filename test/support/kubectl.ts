import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

export type KubectlVersion = "1.27" | "1.28" | "1.29" | "1.30" | "1.31" | "1.32" | "1.33";

export interface KubectlOptions {
  kubeconfig: string;
  /** Which fixed kubectl binary; default 1.33. */
  version?: KubectlVersion;
  stdin?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}

export interface KubectlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

let binDir: string | undefined;

/** The fixed-version binaries live beside the dispatcher that `kubectl` on PATH resolves to. */
export function kubectlBinary(version: KubectlVersion): string {
  binDir ??= dirname(realpathSync(execFileSync("which", ["kubectl"], { encoding: "utf8" }).trim()));
  return join(binDir, `kubectl.${version}`);
}

function childEnv(extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...(extra ?? {}) };
  // Only the kubeconfig we pass counts.
  delete env.KUBECONFIG;
  return env;
}

/**
 * Every call gets its own discovery cache: kubectl caches discovery for hours, and a cache shared
 * between calls (or servers) would hide what the server answers now.
 */
function withCacheDir<T>(run: (cacheDir: string) => T): { value: T; cleanup: () => void } {
  const cacheDir = mkdtempSync(join(tmpdir(), "kubectl-cache-"));
  return { value: run(cacheDir), cleanup: () => rmSync(cacheDir, { recursive: true, force: true }) };
}

function kubectlArgs(args: string[], opts: KubectlOptions, cacheDir: string): string[] {
  return ["--kubeconfig", opts.kubeconfig, "--cache-dir", cacheDir, ...args];
}

// kubectl is a Go binary that loads discovery and OpenAPI on every call: on a shared 2-core machine
// too many at once only make each one slower and push tests into their timeouts.
const MAX_CONCURRENT = Number(process.env.E2E_KUBECTL_CONCURRENCY ?? 4);
let active = 0;
const queue: (() => void)[] = [];

async function slot<T>(run: () => Promise<T>): Promise<T> {
  if (active >= MAX_CONCURRENT) await new Promise<void>((r) => queue.push(r));
  active += 1;
  try {
    return await run();
  } finally {
    active -= 1;
    queue.shift()?.();
  }
}

/** Runs kubectl to completion. Never throws for a non-zero exit: the caller asserts on `code`. */
export function kubectl(args: string[], opts: KubectlOptions): Promise<KubectlResult> {
  return slot(() => runKubectl(args, opts));
}

function runKubectl(args: string[], opts: KubectlOptions): Promise<KubectlResult> {
  const { value, cleanup } = withCacheDir(
    (cacheDir) =>
      new Promise<KubectlResult>((resolve, reject) => {
        const child = spawn(kubectlBinary(opts.version ?? "1.33"), kubectlArgs(args, opts, cacheDir), {
          env: childEnv(opts.env),
          stdio: ["pipe", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
        child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
        const timer = setTimeout(() => {
          stderr += `\n[test] kubectl ${args.join(" ")} killed after ${opts.timeoutMs ?? 30_000} ms`;
          child.kill("SIGKILL");
        }, opts.timeoutMs ?? 30_000);
        child.on("error", reject);
        child.on("close", (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
        // kubectl may exit before it reads its input (EPIPE): its exit code tells the story.
        child.stdin.on("error", () => {});
        child.stdin.end(opts.stdin ?? "");
      }),
  );
  return value.finally(cleanup);
}

/** A long-running kubectl (`get -w`, `wait`) whose output is read while it runs. */
export interface KubectlProcess {
  /** stdout so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout contains a line matching `pattern`; throws after `timeoutMs`. */
  waitForLine(pattern: RegExp, timeoutMs?: number, stream?: "stdout" | "stderr"): Promise<string>;
  /** Resolves with the result when the process exits. */
  done: Promise<KubectlResult>;
  kill(): Promise<KubectlResult>;
}

// A test that fails while a long-running kubectl runs may never kill it: the test process does.
const live = new Map<ChildProcess, string>();
process.once("exit", () => {
  for (const [child, cacheDir] of live) {
    child.kill("SIGKILL");
    rmSync(cacheDir, { recursive: true, force: true });
  }
});

export function kubectlStart(args: string[], opts: KubectlOptions): KubectlProcess {
  const cacheDir = mkdtempSync(join(tmpdir(), "kubectl-cache-"));
  const child = spawn(kubectlBinary(opts.version ?? "1.33"), kubectlArgs(args, opts, cacheDir), {
    env: childEnv(opts.env),
    stdio: ["pipe", "pipe", "pipe"],
  });
  live.set(child, cacheDir);
  let stdout = "";
  let stderr = "";
  const listeners = new Set<() => void>();
  const poke = () => listeners.forEach((l) => l());
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
    poke();
  });
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
    poke();
  });
  child.stdin.on("error", () => {});
  child.stdin.end(opts.stdin ?? "");
  const hardStop = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
  let exited = false;
  const done = new Promise<KubectlResult>((resolve) => {
    child.on("close", (code) => {
      exited = true;
      live.delete(child);
      clearTimeout(hardStop);
      rmSync(cacheDir, { recursive: true, force: true });
      poke();
      resolve({ code, stdout, stderr });
    });
  });
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    done,
    waitForLine(pattern, timeoutMs = 15_000, stream = "stdout") {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = (stream === "stdout" ? stdout : stderr).split("\n").find((l) => pattern.test(l));
          if (line !== undefined) {
            finish();
            resolve(line);
          } else if (exited) {
            finish();
            reject(new Error(`kubectl ${args.join(" ")} exited before ${pattern}: ${stdout}\n${stderr}`));
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(
            new Error(
              `kubectl ${args.join(" ")}: no line ${pattern} in ${timeoutMs} ms:\n${stdout}\n${stderr}`,
            ),
          );
        }, timeoutMs);
        const finish = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    kill() {
      if (!exited) child.kill("SIGTERM");
      return done;
    },
  };
}
