/**
 * The paths and operations kube-apiserver publishes for a custom resource (apiextensions-apiserver
 * `controller/openapi/builder`): collection and item paths, one operation per verb, operation ids and
 * tags as `openapi.GetOperationIDAndTags` makes them. PATCH accepts only the three patch types a CRD
 * accepts: listing strategic merge would make kubectl send strategic merge patches.
 */
import type { ResourceDef } from "../../resources/types.js";
import { DELETE_OPTIONS, type OpenAPIVersion, PATCH, refPath, type Schema, STATUS } from "./meta-schemas.js";
import { type OptionsKind, pathParameters, queryParameters } from "./parameters.js";

export const PATCH_MEDIA_TYPES = [
  "application/json-patch+json",
  "application/merge-patch+json",
  "application/apply-patch+yaml",
];
const BODY_MEDIA_TYPES = ["application/json", "application/yaml"];
const RESPONSE_MEDIA_TYPES = ["application/json", "application/yaml"];

/** `util.ToRESTFriendlyName("<group>/<version>.<kind>")`: the group's labels reversed. */
export function definitionName(group: string, version: string, kind: string): string {
  const g = group.split(".").reverse().join(".");
  return g ? `${g}.${version}.${kind}` : `${version}.${kind}`;
}

/** `ToValidOperationID`: drops what is not a letter (or a digit after the start), capitalizing after it. */
export function toValidOperationID(s: string, capitalizeFirst: boolean): string {
  let out = "";
  let capitalize = capitalizeFirst;
  [...s].forEach((ch, i) => {
    if (/\p{L}/u.test(ch) || ch === "_" || (i !== 0 && /\p{Nd}/u.test(ch))) {
      out += capitalize ? ch.toUpperCase() : ch;
      capitalize = false;
    } else capitalize = true;
  });
  return out;
}

const VERB_PREFIXES = [
  "get",
  "log",
  "read",
  "replace",
  "patch",
  "delete",
  "watch",
  "connect",
  "proxy",
  "list",
  "create",
];

function operationIdAndTag(op: string, def: ResourceDef): { id: string; tag: string } {
  // The shortest verb prefix wins, as in the trie of k8s.io/apiserver: "deletecollection…" → "delete".
  const prefix = VERB_PREFIXES.filter((v) => op.startsWith(v)).sort((a, b) => a.length - b.length)[0] ?? "";
  const rest = op.slice(prefix.length);
  const group = def.group.replace(/\.k8s\.io$/, "");
  const id =
    prefix +
    toValidOperationID(group, true) +
    toValidOperationID(def.version, true) +
    toValidOperationID(rest, true);
  return { id, tag: `${toValidOperationID(group, false)}_${toValidOperationID(def.version, false)}` };
}

const article = (noun: string): string => (/^[aeiou]/i.test(noun) ? " an " : " a ");

type Action = "list" | "post" | "deletecollection" | "get" | "put" | "delete" | "patch";

interface Route {
  action: Action;
  method: "get" | "post" | "put" | "delete" | "patch";
  operation: string;
  description: string;
  options: OptionsKind;
  /** Definition name of the 200 response. */
  response: string;
  /** Extra response codes, with the definition each returns. */
  more?: [string, string, string][];
  body?: { schema: string; mediaTypes: string[]; required: boolean };
}

function collectionRoutes(def: ResourceDef, kindSchema: string, listSchema: string): Route[] {
  const ns = def.namespaced ? "Namespaced" : "";
  return [
    {
      action: "list",
      method: "get",
      operation: `list${ns}${def.kind}`,
      description: `list objects of kind ${def.kind}`,
      options: "list",
      response: listSchema,
    },
    {
      action: "post",
      method: "post",
      operation: `create${ns}${def.kind}`,
      description: `create${article(def.kind)}${def.kind}`,
      options: "create",
      response: kindSchema,
      more: [
        ["201", "Created", kindSchema],
        ["202", "Accepted", kindSchema],
      ],
      body: { schema: kindSchema, mediaTypes: BODY_MEDIA_TYPES, required: true },
    },
    {
      action: "deletecollection",
      method: "delete",
      operation: `deletecollection${ns}${def.kind}`,
      description: `delete collection of ${def.kind}`,
      options: "list",
      response: STATUS,
    },
  ];
}

function itemRoutes(def: ResourceDef, kindSchema: string): Route[] {
  const ns = def.namespaced ? "Namespaced" : "";
  return [
    {
      action: "get",
      method: "get",
      operation: `read${ns}${def.kind}`,
      description: `read the specified ${def.kind}`,
      options: "get",
      response: kindSchema,
    },
    {
      action: "put",
      method: "put",
      operation: `replace${ns}${def.kind}`,
      description: `replace the specified ${def.kind}`,
      options: "update",
      response: kindSchema,
      more: [["201", "Created", kindSchema]],
      body: { schema: kindSchema, mediaTypes: BODY_MEDIA_TYPES, required: true },
    },
    {
      action: "delete",
      method: "delete",
      operation: `delete${ns}${def.kind}`,
      description: `delete${article(def.kind)}${def.kind}`,
      options: "delete",
      response: STATUS,
      more: [["202", "Accepted", STATUS]],
      body: { schema: DELETE_OPTIONS, mediaTypes: BODY_MEDIA_TYPES, required: false },
    },
    {
      action: "patch",
      method: "patch",
      operation: `patch${ns}${def.kind}`,
      description: `partially update the specified ${def.kind}`,
      options: "patch",
      response: kindSchema,
      body: { schema: PATCH, mediaTypes: PATCH_MEDIA_TYPES, required: true },
    },
  ];
}

function operation(def: ResourceDef, r: Route, v: OpenAPIVersion): Schema {
  const { id, tag } = operationIdAndTag(r.operation, def);
  const ref = (name: string): Schema => ({ $ref: refPath(name, v) });
  const response = (description: string, schema: string): Schema =>
    v === "v3"
      ? {
          description,
          content: Object.fromEntries(RESPONSE_MEDIA_TYPES.map((m) => [m, { schema: ref(schema) }])),
        }
      : { description, schema: ref(schema) };
  const responses: Record<string, Schema> = { "200": response("OK", r.response) };
  for (const [code, description, schema] of r.more ?? []) responses[code] = response(description, schema);
  responses["401"] = { description: "Unauthorized" };

  const op: Schema = { tags: [tag], description: r.description, operationId: id };
  const parameters = queryParameters(r.options, v);
  if (v === "v2") {
    if (r.body) {
      parameters.unshift({ name: "body", in: "body", required: r.body.required, schema: ref(r.body.schema) });
    }
    op.consumes = r.body?.mediaTypes ?? BODY_MEDIA_TYPES;
    op.produces = RESPONSE_MEDIA_TYPES;
    op.schemes = ["https"];
  }
  op.parameters = parameters;
  if (v === "v3" && r.body) {
    op.requestBody = {
      content: Object.fromEntries(r.body.mediaTypes.map((m) => [m, { schema: ref(r.body!.schema) }])),
      ...(r.body.required ? { required: true } : {}),
    };
  }
  op.responses = responses;
  op["x-kubernetes-action"] = r.action;
  op["x-kubernetes-group-version-kind"] = { group: def.group, version: def.version, kind: def.kind };
  return op;
}

function pathItem(
  def: ResourceDef,
  routes: Route[],
  named: boolean,
  namespaced: boolean,
  v: OpenAPIVersion,
): Schema {
  const item: Schema = {};
  for (const r of routes) item[r.method] = operation(def, r, v);
  item.parameters = pathParameters(def.kind, namespaced, named, v);
  return item;
}

/** Every path of one kind, keyed by URL path. */
export function kindPaths(def: ResourceDef, v: OpenAPIVersion): Record<string, Schema> {
  const kindSchema = definitionName(def.group, def.version, def.kind);
  const listSchema = definitionName(def.group, def.version, def.listKind);
  const base = `/apis/${def.group}/${def.version}`;
  const paths: Record<string, Schema> = {};
  let collection = `${base}/${def.plural}`;
  if (def.namespaced) {
    const [list] = collectionRoutes(def, kindSchema, listSchema);
    paths[collection] = pathItem(
      def,
      [{ ...list, operation: `list${def.kind}ForAllNamespaces` }],
      false,
      false,
      v,
    );
    collection = `${base}/namespaces/{namespace}/${def.plural}`;
  }
  paths[collection] = pathItem(def, collectionRoutes(def, kindSchema, listSchema), false, def.namespaced, v);
  paths[`${collection}/{name}`] = pathItem(def, itemRoutes(def, kindSchema), true, def.namespaced, v);
  return paths;
}
