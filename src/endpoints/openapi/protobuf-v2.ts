/**
 * The Swagger 2.0 document in the protobuf form kubectl 1.27/1.28 ask `/openapi/v2` for
 * (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`, gnostic's openapi_v2.Document).
 * Only what our documents use is encoded; vendor extensions, defaults and enum values travel as YAML
 * text inside `Any`, as gnostic does.
 */
import { stringify } from "yaml";

/** What kubectl puts in Accept (kube-openapi also accepts the `.v1.0` spelling). */
export const OPENAPI_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
/**
 * What the response must carry: Go's mime parser rejects the `@` form, and kubectl 1.27/1.28 then fail
 * with "mime: unexpected content after media subtype". kube-apiserver answers with this spelling.
 */
export const OPENAPI_V2_PROTOBUF_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

type Json = Record<string, unknown>;

/** Protocol buffer encoding, proto3 rules: default values (empty, false, 0) are not written. */
class Writer {
  private readonly parts: Buffer[] = [];

  private varint(v: number | bigint): void {
    let n = BigInt.asUintN(64, BigInt(v));
    const bytes: number[] = [];
    while (n >= 0x80n) {
      bytes.push(Number(n & 0x7fn) | 0x80);
      n >>= 7n;
    }
    bytes.push(Number(n));
    this.parts.push(Buffer.from(bytes));
  }

  private tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  string(field: number, v: unknown): this {
    if (typeof v !== "string" || v === "") return this;
    const b = Buffer.from(v, "utf8");
    this.tag(field, 2);
    this.varint(b.length);
    this.parts.push(b);
    return this;
  }

  strings(field: number, v: unknown): this {
    if (Array.isArray(v)) for (const s of v) this.string(field, String(s));
    return this;
  }

  bool(field: number, v: unknown): this {
    if (v !== true) return this;
    this.tag(field, 0);
    this.varint(1);
    return this;
  }

  int(field: number, v: unknown): this {
    if (typeof v !== "number" || v === 0) return this;
    this.tag(field, 0);
    this.varint(Math.trunc(v));
    return this;
  }

  double(field: number, v: unknown): this {
    if (typeof v !== "number" || v === 0) return this;
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v);
    this.tag(field, 1);
    this.parts.push(b);
    return this;
  }

  /** A nested message; written even when empty, since presence matters for oneofs and objects. */
  message(field: number, body: Writer | undefined): this {
    if (!body) return this;
    const b = body.bytes();
    this.tag(field, 2);
    this.varint(b.length);
    this.parts.push(b);
    return this;
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

const w = (): Writer => new Writer();

/** gnostic `Any`: the value as YAML text. */
function any(value: unknown): Writer {
  return w().string(2, stringify(value));
}

function named(name: string, value: Writer): Writer {
  return w().string(1, name).message(2, value);
}

function vendorExtensions(field: number, obj: Json, out: Writer): void {
  for (const [k, v] of Object.entries(obj)) {
    if (k.startsWith("x-")) out.message(field, named(k, any(v)));
  }
}

function schema(s: Json): Writer {
  const out = w().string(1, s.$ref).string(2, s.format).string(3, s.title).string(4, s.description);
  if (s.default !== undefined) out.message(5, any(s.default));
  out
    .double(6, s.multipleOf)
    .double(7, s.maximum)
    .bool(8, s.exclusiveMaximum)
    .double(9, s.minimum)
    .bool(10, s.exclusiveMinimum)
    .int(11, s.maxLength)
    .int(12, s.minLength)
    .string(13, s.pattern)
    .int(14, s.maxItems)
    .int(15, s.minItems)
    .bool(16, s.uniqueItems)
    .int(17, s.maxProperties)
    .int(18, s.minProperties)
    .strings(19, s.required);
  if (Array.isArray(s.enum)) for (const e of s.enum) out.message(20, any(e));
  if (typeof s.additionalProperties === "boolean") out.message(21, w().bool(2, s.additionalProperties));
  else if (s.additionalProperties) out.message(21, w().message(1, schema(s.additionalProperties as Json)));
  if (s.type !== undefined) out.message(22, w().strings(1, Array.isArray(s.type) ? s.type : [s.type]));
  if (s.items) out.message(23, w().message(1, schema(s.items as Json)));
  if (Array.isArray(s.allOf)) for (const a of s.allOf) out.message(24, schema(a as Json));
  if (s.properties) {
    const props = w();
    for (const [k, v] of Object.entries(s.properties as Record<string, Json>))
      props.message(1, named(k, schema(v)));
    out.message(25, props);
  }
  vendorExtensions(31, s, out);
  return out;
}

function parameter(p: Json): Writer {
  if (p.in === "body") {
    const body = w()
      .string(1, p.description)
      .string(2, p.name)
      .string(3, p.in)
      .bool(4, p.required)
      .message(5, p.schema ? schema(p.schema as Json) : undefined);
    return w().message(1, w().message(1, body));
  }
  // QueryParameterSubSchema and PathParameterSubSchema number their fields differently from `type` on.
  const isPath = p.in === "path";
  const sub = w().bool(1, p.required).string(2, p.in).string(3, p.description).string(4, p.name);
  if (isPath) sub.string(5, p.type).bool(19, p.uniqueItems);
  else sub.string(6, p.type).bool(20, p.uniqueItems);
  return w().message(1, w().message(2, w().message(isPath ? 4 : 3, sub)));
}

function operation(op: Json): Writer {
  const out = w()
    .strings(1, op.tags)
    .string(2, op.summary)
    .string(3, op.description)
    .string(5, op.operationId)
    .strings(6, op.produces)
    .strings(7, op.consumes);
  for (const p of (op.parameters as Json[] | undefined) ?? []) out.message(8, parameter(p));
  const responses = w();
  for (const [code, r] of Object.entries((op.responses as Record<string, Json> | undefined) ?? {})) {
    const response = w()
      .string(1, r.description)
      .message(2, r.schema ? w().message(1, schema(r.schema as Json)) : undefined);
    responses.message(1, named(code, w().message(1, response)));
  }
  out.message(9, responses).strings(10, op.schemes);
  vendorExtensions(13, op, out);
  return out;
}

const METHOD_FIELDS: [string, number][] = [
  ["get", 2],
  ["put", 3],
  ["post", 4],
  ["delete", 5],
  ["options", 6],
  ["head", 7],
  ["patch", 8],
];

function pathItem(item: Json): Writer {
  const out = w();
  for (const [m, f] of METHOD_FIELDS) if (item[m]) out.message(f, operation(item[m] as Json));
  for (const p of (item.parameters as Json[] | undefined) ?? []) out.message(9, parameter(p));
  return out;
}

/** Encodes a Swagger 2.0 JSON document (as openapiV2() builds it) as gnostic's openapi_v2.Document. */
export function encodeOpenAPIV2(doc: Json): Buffer {
  const info = (doc.info as Json | undefined) ?? {};
  const paths = w();
  for (const [p, item] of Object.entries((doc.paths as Record<string, Json> | undefined) ?? {})) {
    paths.message(2, named(p, pathItem(item)));
  }
  const definitions = w();
  for (const [name, s] of Object.entries((doc.definitions as Record<string, Json> | undefined) ?? {})) {
    definitions.message(1, named(name, schema(s)));
  }
  return w()
    .string(1, doc.swagger)
    .message(2, w().string(1, info.title).string(2, info.version))
    .message(8, paths)
    .message(9, definitions)
    .bytes();
}
