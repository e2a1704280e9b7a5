import { stringify } from "yaml";
import { get } from "../../support/http.js";
import type { Backend, BackendHandle, TestServer } from "../../support/server.js";
import { kubectl, kubectlStart, type KubectlResult, type KubectlVersion } from "../../support/kubectl.js";
import type { Obj } from "../../support/reports.js";

/** What every part of the API suite receives: the server (valid inside tests) and shorthands. */
export interface SuiteContext {
  backend: Backend;
  server(): TestServer;
  /** The server's private store (compaction for the 410 tests). */
  store(): BackendHandle;
}

export interface RunOptions {
  version?: KubectlVersion;
  stdin?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** kubectl against the suite's server. */
export function k(ctx: SuiteContext, args: string[], opts: RunOptions = {}): Promise<KubectlResult> {
  return kubectl(args, { kubeconfig: ctx.server().kubeconfig, ...opts });
}

/** kubectl that must succeed: returns stdout, or throws with everything kubectl said. */
export async function kOk(ctx: SuiteContext, args: string[], opts: RunOptions = {}): Promise<string> {
  const r = await k(ctx, args, opts);
  if (r.code !== 0) {
    throw new Error(
      `kubectl ${opts.version ?? "1.33"} ${args.join(" ")} → ${r.code}\n${r.stdout}\n${r.stderr}`,
    );
  }
  return r.stdout;
}

export function kStart(ctx: SuiteContext, args: string[], opts: RunOptions = {}) {
  return kubectlStart(args, { kubeconfig: ctx.server().kubeconfig, ...opts });
}

/** `kubectl get -o json`, parsed. */
export async function kJson<T = Obj>(ctx: SuiteContext, args: string[], opts: RunOptions = {}): Promise<T> {
  return JSON.parse(await kOk(ctx, [...args, "-o", "json"], opts)) as T;
}

/** The stored object, read over HTTP (cheaper than a kubectl process when kubectl is not the subject). */
export async function fetchObject(ctx: SuiteContext, path: string): Promise<Obj> {
  const res = await get(ctx.server(), path);
  if (res.status !== 200) throw new Error(`GET ${path} → ${res.status}: ${res.body}`);
  return res.json() as Obj;
}

/** YAML as kubectl reads it: YAML 1.1, where an unquoted `y` or `no` would be a boolean. */
export function yamlOf(...objs: Obj[]): string {
  return objs.map((o) => stringify(o, { version: "1.1" })).join("---\n");
}

/** Splits a kubectl table into rows of whitespace-separated cells (header first). */
export function tableRows(out: string): string[][] {
  return out
    .trim()
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => l.trim().split(/\s{2,}|\s+/));
}

/**
 * Reads a kubectl table by the header's column offsets (kubectl pads columns with spaces), so empty
 * cells and cells with spaces stay in their column.
 */
export function parseTable(out: string): { header: string[]; rows: string[][] } {
  const lines = out.split("\n").filter((l) => l.trim() !== "");
  const starts: number[] = [];
  const head = lines[0] ?? "";
  for (const m of head.matchAll(/\S+/g)) starts.push(m.index ?? 0);
  const cut = (l: string) => starts.map((s, i) => l.slice(s, starts[i + 1] ?? l.length).trim());
  return { header: cut(head), rows: lines.slice(1).map(cut) };
}

export function header(out: string): string[] {
  return out.trim().split("\n")[0].trim().split(/\s+/);
}

/** The NAME column of a kubectl table (the first, or the second with -A on namespaced kinds). */
export function names(out: string, col = 0): string[] {
  return tableRows(out)
    .slice(1)
    .map((r) => r[col])
    .sort();
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
