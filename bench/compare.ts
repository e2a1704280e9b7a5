/**
 * `--compare <ref>`: another build of reports-server as the baseline. The ref is checked out into a
 * temporary git worktree that shares this checkout's node_modules, and built there; the worktree is
 * removed when the bench ends, whichever way it ends (the exit hook below runs on process.exit, which
 * main.ts also takes on Ctrl-C).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("..", import.meta.url));

export interface BaseBuild {
  /** The ref as given, and the commit it named (short). */
  ref: string;
  sha: string;
  /** The worktree, with its dist/ built: what startServer's `root` takes. */
  root: string;
  /** Removes the worktree (also done on exit). */
  remove(): void;
}

const git = (args: string[], cwd = REPO) =>
  execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();

/**
 * Runs `npm run build` in `dir`, its output on our stderr (stdout is the table's). In a process group
 * of its own, so that stopping it stops the compiler under npm too, not only npm.
 */
function build(dir: string, started: (c: ChildProcess) => void): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const c = spawn("npm", ["run", "build"], { cwd: dir, stdio: ["ignore", 2, 2], detached: true });
    started(c);
    c.on("error", reject);
    c.on("exit", (code) => resolve(code));
  });
}

/**
 * Removes the worktree after this process has ended, if it has not done so itself: on Ctrl-C tsx kills
 * the bench (SIGKILL) when it does not hear back within 60 ms, which can cut the exit hook's git
 * commands short. Detached, so that the Ctrl-C does not reach it; it ends with this process.
 */
function watchdog(root: string, parent: string): ChildProcess {
  const script = [
    'while kill -0 "$1" 2>/dev/null; do sleep 0.5; done',
    // a build still running (its process group), which would write into the directory removed below
    // (dash's kill takes a process group as a negative pid after the signal, without "--")
    'if [ -f "$3/builder.pid" ]; then kill -9 "-$(cat "$3/builder.pid")" 2>/dev/null; sleep 0.2; fi',
    'rm -f "$2/node_modules"',
    'git -C "$4" worktree remove --force "$2" 2>/dev/null || { rm -rf "$3"; git -C "$4" worktree prune; }',
    'rm -rf "$3"',
  ].join("\n");
  const c = spawn("sh", ["-c", script, "sh", String(process.pid), root, parent, REPO], {
    detached: true,
    stdio: "ignore",
  });
  c.unref();
  return c;
}

export async function checkoutBuild(ref: string, log: (msg: string) => void): Promise<BaseBuild> {
  let full: string;
  try {
    full = git(["rev-parse", "--verify", "--end-of-options", `${ref}^{commit}`]);
  } catch {
    throw new Error(`--compare: ${ref} does not name a commit in ${REPO}`);
  }
  const sha = git(["rev-parse", "--short", full]);
  const parent = mkdtempSync(join(tmpdir(), "reports-server-base-"));
  const root = join(parent, "checkout");
  const guard = watchdog(root, parent);
  let builder: ChildProcess | undefined;
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    // The compiler first: it would write into the directory being removed.
    if (builder?.pid !== undefined) {
      try {
        process.kill(-builder.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    // The link next, so that nothing below can reach into this checkout's node_modules.
    try {
      unlinkSync(join(root, "node_modules"));
    } catch {
      // not made yet
    }
    let registered = true;
    try {
      git(["worktree", "remove", "--force", root]);
      registered = false;
    } catch {
      // not added yet, or git failed: remove the files and git's record of them below
    }
    rmSync(parent, { recursive: true, force: true, maxRetries: 3 });
    if (registered) {
      try {
        git(["worktree", "prune"]);
      } catch {
        // nothing more to do
      }
    }
    if (guard.pid !== undefined) {
      try {
        process.kill(-guard.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  };
  process.once("exit", remove);
  const done = () => {
    remove();
    process.removeListener("exit", remove);
  };
  try {
    const t0 = performance.now();
    git(["worktree", "add", "--detach", root, full]);
    symlinkSync(join(REPO, "node_modules"), join(root, "node_modules"), "dir");
    log(`base: building ${ref} (${sha}) in ${root}`);
    const pidFile = join(parent, "builder.pid");
    const code = await build(root, (c) => {
      builder = c;
      // for the watchdog, should this process die without its exit hook (SIGKILL, OOM)
      if (c.pid !== undefined) writeFileSync(pidFile, String(c.pid));
    });
    builder = undefined;
    rmSync(pidFile, { force: true });
    if (code !== 0) {
      // As for this build (scripts/bench.mjs): a type error elsewhere still emits JavaScript.
      if (!existsSync(join(root, "dist", "main.js"))) throw new Error(`--compare: building ${ref} failed`);
      log(`base: the build of ${ref} reported errors; measuring the JavaScript it emitted`);
    }
    log(`base: ${ref} (${sha}) built in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  } catch (err) {
    done();
    throw err;
  }
  return { ref, sha, root, remove: done };
}
