import { promisify } from "node:util";
import { gunzip, gzip } from "node:zlib";
import type { KubeObject } from "../../apimachinery/types.js";
import { withResourceVersionBytes } from "../encoded.js";

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/**
 * Values are the object's JSON, as kube-apiserver stores CRs, without `metadata.resourceVersion`
 * (etcd's mod_revision is the resource version). etcd refuses requests over 1.5 MiB by default and
 * reports may reach the API's 3 MiB body limit, so larger values are gzipped: a gzip stream starts
 * with 0x1f 0x8b, and 0x1f can never start JSON text, so the first bytes tell the two apart and
 * values written before the threshold changed still read back.
 */
export async function encodeValue(object: KubeObject, compressAboveBytes: number): Promise<EncodedValue> {
  const { resourceVersion: _omit, ...metadata } = object.metadata;
  const json = JSON.stringify({ ...object, metadata });
  const bytes = Buffer.from(json);
  return { json, value: bytes.length <= compressAboveBytes ? bytes : await gzipAsync(bytes) };
}

export interface EncodedValue {
  /** What etcd stores. */
  value: Buffer;
  /** The JSON it holds, to answer a write with exactly what a read would return. */
  json: string;
}

export async function decodeValue(value: Buffer, resourceVersion: string): Promise<KubeObject> {
  return fromJson(isGzipped(value) ? await gunzipAsync(value) : value, resourceVersion);
}

/**
 * The stored JSON with its resource version, for answers that send it on without decoding it: the
 * stored value as it is, the resource version spliced in (withResourceVersionBytes).
 */
export async function encodedBytes(value: Buffer, resourceVersion: string): Promise<Buffer[]> {
  return withResourceVersionBytes(isGzipped(value) ? await gunzipAsync(value) : value, resourceVersion);
}

export function fromJson(json: Buffer, resourceVersion: string): KubeObject {
  const object = JSON.parse(json.toString()) as KubeObject;
  object.metadata = { ...object.metadata, resourceVersion };
  return object;
}

export function isGzipped(value: Buffer): boolean {
  return value.length >= 2 && value[0] === 0x1f && value[1] === 0x8b;
}
