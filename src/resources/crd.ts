import { isPlainObject } from "../apimachinery/types.js";
import type { JSONSchemaProps, PrinterColumn, ResourceDef } from "./types.js";

/** Turns a CustomResourceDefinition (apiextensions.k8s.io/v1) into the served kinds, one per served version. */
export function loadCrd(doc: unknown): ResourceDef[] {
  if (!isPlainObject(doc) || doc.kind !== "CustomResourceDefinition") {
    throw new Error("not a CustomResourceDefinition");
  }
  const spec = doc.spec as Record<string, unknown>;
  const names = spec.names as Record<string, unknown>;
  const group = String(spec.group);
  const versions = (spec.versions as Record<string, unknown>[]).filter((v) => v.served !== false);
  return versions.map((v) => {
    const version = String(v.name);
    const schema = ((v.schema as Record<string, unknown> | undefined)?.openAPIV3Schema ?? {
      type: "object",
      "x-kubernetes-preserve-unknown-fields": true,
    }) as JSONSchemaProps;
    const cols = ((v.additionalPrinterColumns as Record<string, unknown>[] | undefined) ?? []).map(
      (c): PrinterColumn => ({
        name: String(c.name),
        type: c.type as PrinterColumn["type"],
        jsonPath: String(c.jsonPath),
        format: c.format === undefined ? undefined : String(c.format),
        description: c.description === undefined ? undefined : String(c.description),
        priority: typeof c.priority === "number" ? c.priority : 0,
      }),
    );
    const kind = String(names.kind);
    return {
      group,
      version,
      groupVersion: group ? `${group}/${version}` : version,
      kind,
      listKind: String(names.listKind ?? `${kind}List`),
      plural: String(names.plural),
      singular: String(names.singular ?? kind.toLowerCase()),
      shortNames: (names.shortNames as string[] | undefined) ?? [],
      categories: (names.categories as string[] | undefined) ?? [],
      namespaced: spec.scope === "Namespaced",
      schema,
      printerColumns: cols,
    };
  });
}
