import { randomUUID } from "node:crypto";
import postgres from "postgres";
import type { KubeObject } from "../src/apimachinery/types.js";
import { encodeValue } from "../src/storage/etcd/codec.js";
import { createEtcdClient } from "../src/storage/etcd/client.js";
import { labelIndexKeys, putEntries } from "../src/storage/etcd/index.js";
import { KeyLayout } from "../src/storage/etcd/keys.js";
import { resolveEtcdOptions } from "../src/storage/etcd/options.js";
import { encodeLabels, encodeObject } from "../src/storage/postgres/codec.js";
import type { KindInfo, Obj } from "./fixtures.js";
import { pooled } from "./loop.js";

/**
 * Loading N reports into the server's own store without the API, for PostgreSQL and etcd where
 * 100,000 creates through the API would take most of an hour on two busy cores. The objects must be
 * exactly what the server would have stored: the first one of each population is created through
 * the API, read back, and the metadata the server added (uid, creationTimestamp, generation, its
 * annotation…) is applied to the others in the same key order, then each is encoded by the server's
 * own codec and written with the server's own statement shapes (row and changelog entry for
 * PostgreSQL, the server's key layout for etcd).
 */

export interface BulkWriter {
  /** Writes objects (already in stored form) and returns their resource versions, in order. */
  write(kind: KindInfo, objects: Obj[]): Promise<string[]>;
  /** See Subject.settle. */
  settle?(): Promise<void>;
  close(): Promise<void>;
}

type Meta = Record<string, unknown>;

/**
 * `input` as the server stores it, given what the server made of `templateInput` (`template`, read
 * back from the API). Null when the server changed more than metadata (then bulk loading would not
 * reproduce it and the caller must use the API).
 */
export function storedForm(template: Obj, templateInput: Obj, input: Obj): Obj | null {
  const strip = (o: Obj) => JSON.stringify({ ...o, metadata: undefined });
  if (strip(template) !== strip(templateInput)) return null;
  const given = templateInput.metadata as Meta;
  const added = (template.metadata.annotations ?? {}) as Record<string, string>;
  const serverAnnotations = Object.fromEntries(
    Object.entries(added).filter(([k]) => !(k in ((given.annotations as Meta | undefined) ?? {}))),
  );
  const source = input.metadata as Meta;
  const metadata: Meta = {};
  for (const key of Object.keys(template.metadata)) {
    if (key === "resourceVersion") continue;
    if (key === "uid") metadata.uid = randomUUID();
    else if (key === "annotations")
      metadata.annotations = { ...((source.annotations as Meta | undefined) ?? {}), ...serverAnnotations };
    else metadata[key] = key in source ? source[key] : (template.metadata as Meta)[key];
  }
  for (const key of Object.keys(source)) if (!(key in metadata)) return null; // a field the server dropped
  return { ...input, metadata };
}

function flagValue(args: string[], name: string): string {
  const hit = args.find((a) => a.startsWith(`--${name}=`));
  if (!hit) throw new Error(`no --${name} among the server's store flags`);
  return hit.slice(name.length + 3);
}

/** Writes into the server's PostgreSQL tables: object rows and their changelog entries, 500 per statement. */
export function postgresWriter(args: string[], env: Record<string, string>): BulkWriter {
  const sql = postgres({
    host: flagValue(args, "db-host"),
    port: Number(flagValue(args, "db-port")),
    database: flagValue(args, "db-name"),
    user: flagValue(args, "db-user"),
    password: env.DB_PASSWORD,
    max: 4,
    onnotice: () => {},
  });
  return {
    async write(kind, objects) {
      const resource = `${kind.group}/${kind.plural}`;
      const rvs = new Array<string>(objects.length);
      const batches = Math.ceil(objects.length / 500);
      await pooled(batches, 4, async (b) => {
        const slice = objects.slice(b * 500, (b + 1) * 500);
        const rows = slice.map((o) => {
          const namespace = String(o.metadata.namespace ?? "");
          const name = String(o.metadata.name);
          return {
            key: namespace ? `${namespace}/${name}` : name,
            namespace,
            name,
            labels: encodeLabels(o as KubeObject),
            data: encodeObject(o as KubeObject),
          };
        });
        // The server's insert (queries.ts insertObject), many rows at once: object, then changelog 'A'.
        // The live server's poller may claim ids this statement drew but has not committed yet (a
        // gap it waited out); the statement then fails whole and is redone with new ids, as the
        // server's own writes are (retryClaimedId).
        const insert = () => sql<{ key: string; rv: string }[]>`
          WITH input AS (
            SELECT * FROM json_to_recordset(${JSON.stringify(rows)}::text::json)
              AS r(key text, namespace text, name text, labels text, data text)
          ), obj AS (
            INSERT INTO report_objects (cluster, resource, key, namespace, name, labels, rv, data)
            SELECT 'default', ${resource}::text, key, namespace, name, labels::jsonb, nextval('report_rv_seq'), data
            FROM input
            RETURNING key, namespace, name, rv, data
          ), log AS (
            INSERT INTO report_changelog (id, cluster, resource, namespace, name, kind, data)
            SELECT rv, 'default', ${resource}::text, namespace, name, 'A', data FROM obj
          )
          SELECT key, rv::text AS rv FROM obj`;
        let written: { key: string; rv: string }[] | undefined;
        for (let attempt = 1; written === undefined; attempt++) {
          try {
            written = await insert();
          } catch (err) {
            const claimed = (err as { constraint_name?: string }).constraint_name === "report_changelog_pkey";
            if (!claimed || attempt >= 10) throw err;
          }
        }
        const byKey = new Map(written.map((w) => [w.key, w.rv]));
        rows.forEach((r, i) => (rvs[b * 500 + i] = byKey.get(r.key) ?? ""));
      });
      return rvs;
    },
    settle: async () => void (await sql`VACUUM ANALYZE`),
    close: () => sql.end({ timeout: 5 }),
  };
}

/**
 * Writes into the server's etcd keys with the server's value encoding, 64 writes in flight: each
 * object with its label index entries in one transaction, as the server's create does.
 */
export function etcdWriter(args: string[]): BulkWriter {
  const opts = resolveEtcdOptions({
    endpoints: flagValue(args, "etcd-endpoints").split(","),
    clusterName: "default",
  });
  const client = createEtcdClient(opts);
  const keys = new KeyLayout(opts.prefix, opts.clusterName);
  return {
    async write(kind, objects) {
      const resource = { group: kind.group, resource: kind.plural, namespaced: kind.namespaced };
      const rvs = new Array<string>(objects.length);
      await pooled(objects.length, 64, async (i) => {
        const o = objects[i] as KubeObject;
        const objectKey = { namespace: o.metadata.namespace ?? "", name: o.metadata.name ?? "" };
        const { value } = await encodeValue(o, opts.compressAboveBytes);
        const entries = labelIndexKeys(keys, resource, objectKey, o.metadata.labels);
        const resp = await client.kv.txn({
          compare: [],
          success: [
            { request_put: { key: keys.object(resource, objectKey), value } },
            ...putEntries(entries),
          ],
          failure: [],
        });
        rvs[i] = resp.header.revision;
      });
      return rvs;
    },
    close: async () => client.close(),
  };
}
