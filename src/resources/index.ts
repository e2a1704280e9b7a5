import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { loadCrd } from "./crd.js";
import type { ResourceDef } from "./types.js";

export type { ResourceDef, PrinterColumn, JSONSchemaProps } from "./types.js";

/**
 * The served kinds are the CRDs in resources/crds/: adding a kind is adding its CRD file there.
 * The folder sits beside src/ and dist/ so that both the sources and the build find it.
 */
export const CRD_DIR = fileURLToPath(new URL("../../resources/crds/", import.meta.url));

export function loadResources(dir: string = CRD_DIR): ResourceDef[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml") || f.endsWith(".yml"))
    .sort()
    .flatMap((f) => loadCrd(parse(readFileSync(`${dir}/${f}`, "utf8"))));
}

/** Lookups over the served kinds, built once at startup. */
export class ResourceIndex {
  readonly all: ResourceDef[];
  private readonly byPlural = new Map<string, ResourceDef>();
  readonly groups: Map<string, ResourceDef[]>;

  constructor(defs: ResourceDef[]) {
    this.all = defs;
    this.groups = new Map();
    for (const d of defs) {
      this.byPlural.set(`${d.group}/${d.version}/${d.plural}`, d);
      const list = this.groups.get(d.group) ?? [];
      list.push(d);
      this.groups.set(d.group, list);
    }
  }

  find(group: string, version: string, plural: string): ResourceDef | undefined {
    return this.byPlural.get(`${group}/${version}/${plural}`);
  }

  versionsOf(group: string): string[] {
    return [...new Set((this.groups.get(group) ?? []).map((d) => d.version))];
  }
}
