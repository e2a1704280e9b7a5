import { humanAge } from "../apimachinery/age.js";
import { compileJsonPathFirst } from "../apimachinery/jsonpath.js";
import { badRequest } from "../apimachinery/status.js";
import type { KubeObject } from "../apimachinery/types.js";
import type { PrinterColumn, ResourceDef } from "../resources/types.js";
import { goJson } from "../apimachinery/go-format.js";

/**
 * `meta.k8s.io/v1` Tables exactly as kube-apiserver serves them for a CRD: the columns and cells of
 * apiextensions-apiserver's tableconvertor, the row objects of the endpoint's `asTable`.
 */

export type IncludeObject = "None" | "Metadata" | "Object";

export interface TableOptions {
  includeObject: IncludeObject;
  listMeta: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  now: Date;
  /** false for the events of a watch after the first (TableOptions.noHeaders). Default true. */
  withColumnDefinitions?: boolean;
  /** The Table version the client asked for; kubectl asks for v1 first. */
  tableVersion?: "v1" | "v1beta1";
}

export interface TableColumnDefinition {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

/** `ObjectMeta.name`'s documentation, which the real server puts on the Name column. */
export const NAME_DESCRIPTION =
  "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";

/** `?includeObject=`: "" (or absent) means Metadata; anything else unknown is 400, as the API server says it. */
export function parseIncludeObject(v: string | undefined): IncludeObject {
  if (v === undefined || v === "") return "Metadata";
  if (v === "None" || v === "Metadata" || v === "Object") return v;
  // optionsForTransform + ValidateTableOptions
  throw badRequest(
    `Unable to convert to Table as requested: includeObject: Invalid value: ${JSON.stringify(v)}: must be 'Metadata', 'Object', 'None', or empty`,
  );
}

interface CompiledColumns {
  definitions: TableColumnDefinition[];
  columns: { type: PrinterColumn["type"]; first: (obj: unknown) => unknown }[];
}

const NOTHING = (): undefined => undefined;

/** Column definitions and compiled paths, built once per kind (a ResourceDef lives as long as the server). */
const compiled = new WeakMap<ResourceDef, CompiledColumns>();

function columnsOf(def: ResourceDef): CompiledColumns {
  let c = compiled.get(def);
  if (c !== undefined) return c;
  c = {
    definitions: [
      { name: "Name", type: "string", format: "name", description: NAME_DESCRIPTION, priority: 0 },
    ],
    columns: [],
  };
  for (const col of def.printerColumns) {
    let first: (obj: unknown) => unknown;
    try {
      first = compileJsonPathFirst(col.jsonPath);
    } catch {
      // The API server validated the CRD; a path it accepts that we cannot follow yields empty cells.
      first = NOTHING;
    }
    c.columns.push({ type: col.type, first });
    c.definitions.push({
      name: col.name,
      type: col.type,
      format: col.format ?? "",
      description:
        col.description || `Custom resource definition column (in JSONPath format): ${col.jsonPath}`,
      priority: col.priority ?? 0,
    });
  }
  compiled.set(def, c);
  return c;
}

/** The column definitions of a kind's Tables. */
export function tableColumns(def: ResourceDef): TableColumnDefinition[] {
  return columnsOf(def).definitions;
}

/**
 * Converts objects to a Table. Cells: `date` → human age, `integer` → the number truncated,
 * `number`/`boolean` → the value, `string` → the value printed as jsonpath prints it; a missing
 * value or one of the wrong type → null.
 */
export function toTable(
  def: ResourceDef,
  objects: KubeObject[],
  opts: TableOptions,
): Record<string, unknown> {
  const { definitions, columns } = columnsOf(def);
  const now = opts.now.getTime();
  const version = `meta.k8s.io/${opts.tableVersion ?? "v1"}`;
  const rows = new Array<Record<string, unknown>>(objects.length);
  for (let r = 0; r < objects.length; r++) {
    const obj = objects[r];
    const cells = new Array<unknown>(columns.length + 1);
    cells[0] = obj.metadata?.name ?? "";
    for (let i = 0; i < columns.length; i++) {
      const v = columns[i].first(obj);
      cells[i + 1] = v === undefined ? null : cell(columns[i].type, v, now);
    }
    rows[r] = { cells, object: rowObject(obj, opts.includeObject, version) };
  }
  const metadata: Record<string, unknown> = {};
  const lm = opts.listMeta;
  if (lm.resourceVersion) metadata.resourceVersion = lm.resourceVersion;
  if (lm.continue) metadata.continue = lm.continue;
  if (lm.remainingItemCount !== undefined) metadata.remainingItemCount = lm.remainingItemCount;
  return {
    kind: "Table",
    apiVersion: version,
    metadata,
    // Go serialises the omitted (nil) definitions as null.
    columnDefinitions: opts.withColumnDefinitions === false ? null : definitions,
    rows,
  };
}

function rowObject(obj: KubeObject, include: IncludeObject, version: string): unknown {
  switch (include) {
    case "Object":
      return obj;
    case "Metadata":
      return { kind: "PartialObjectMetadata", apiVersion: version, metadata: obj.metadata };
    case "None":
      // RawExtension{Object: nil} marshals as null; the key is present.
      return null;
  }
}

function cell(type: PrinterColumn["type"], v: unknown, now: number): unknown {
  switch (type) {
    case "string":
      return printValue(v);
    case "integer":
      return typeof v === "number" ? Math.trunc(v) : null;
    case "number":
      return typeof v === "number" ? v : null;
    case "boolean":
      return typeof v === "boolean" ? v : null;
    case "date":
      return typeof v === "string" ? humanAge(v, now) : null;
    default:
      return null;
  }
}

/** client-go jsonpath's PrintResults for one value: text for scalars, compact JSON for the rest. */
export function printValue(v: unknown): string {
  if (v === null || v === undefined) return "<no value>";
  if (typeof v === "string") return v;
  if (typeof v === "boolean") return String(v);
  if (typeof v === "number") return goNumber(v);
  return goJson(v);
}

/**
 * Go's `%v` of a decoded JSON number: integers (int64 in unstructured objects) in full decimal,
 * other floats as `%g` with the shortest digits (exponent form below 1e-4 and from 1e6).
 */
function goNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 2 ** 63) return BigInt(n).toString();
  const [mant, expText] = n.toExponential().split("e");
  const exp = Number(expText);
  if (exp < -4 || exp >= 6) {
    const digits = expText.replace(/^[+-]/, "");
    return `${mant}e${exp < 0 ? "-" : "+"}${digits.padStart(2, "0")}`;
  }
  return String(n);
}
