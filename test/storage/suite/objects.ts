import { describe, expect, it } from "vitest";
import type { StoreUnderTest } from "./helpers.js";
import { toJson } from "../../../src/storage/encoded.js";
import { cluster, freshResource, textOf, keysOf, list, ns, rvOf, storageError, thing } from "./helpers.js";

/** get, create, update (compare and swap), delete, resource versions, count, ready. */
export function objectTests(current: () => StoreUnderTest): void {
  describe("objects", () => {
    it("creates an object and gets it back with a store-assigned resource version", async () => {
      const { store } = current();
      const r = freshResource();
      const input = thing(ns("a", "x"), { app: "demo" }, { results: [{ policy: "p", result: "pass" }] });
      const created = await store.create(r, ns("a", "x"), input);
      const rv = rvOf(created);
      expect(created).toMatchObject({ metadata: { name: "x", namespace: "a", labels: { app: "demo" } } });
      expect(created.spec).toEqual({ results: [{ policy: "p", result: "pass" }] });
      const got = await store.get(r, ns("a", "x"));
      expect(got).toEqual(created);
      expect(rvOf(got)).toBe(rv);
      expect(await store.currentResourceVersion()).toBeGreaterThanOrEqual(rv);
    });

    it("ignores a resourceVersion the caller put in the object", async () => {
      const { store } = current();
      const r = freshResource();
      const input = thing(ns("a", "x"));
      input.metadata.resourceVersion = "987654321987";
      const created = await store.create(r, ns("a", "x"), input);
      expect(created.metadata.resourceVersion).not.toBe("987654321987");
      const updated = await store.update(r, ns("a", "x"), { ...created, spec: { n: 1 } }, rvOf(created));
      expect(rvOf(updated)).toBeGreaterThan(rvOf(created));
    });

    it("fails with KeyExists and KeyNotFound where the key is taken or missing", async () => {
      const { store } = current();
      const r = freshResource();
      const first = await store.create(r, ns("a", "x"), thing(ns("a", "x"), undefined, { n: 1 }));
      await storageError(
        store.create(r, ns("a", "x"), thing(ns("a", "x"), undefined, { n: 2 })),
        "KeyExists",
      );
      expect((await store.get(r, ns("a", "x"))).spec).toEqual({ n: 1 });
      await storageError(store.get(r, ns("a", "y")), "KeyNotFound");
      await storageError(store.get(r, ns("b", "x")), "KeyNotFound");
      await storageError(store.update(r, ns("a", "y"), thing(ns("a", "y")), rvOf(first)), "KeyNotFound");
      await storageError(store.delete(r, ns("a", "y")), "KeyNotFound");
      await storageError(store.delete(r, ns("a", "y"), rvOf(first)), "KeyNotFound");
    });

    it("updates only when the expected resource version is the stored one (compare and swap)", async () => {
      const { store } = current();
      const r = freshResource();
      const v1 = await store.create(r, ns("a", "x"), thing(ns("a", "x"), undefined, { n: 1 }));
      const v2 = await store.update(r, ns("a", "x"), { ...thing(ns("a", "x")), spec: { n: 2 } }, rvOf(v1));
      expect(rvOf(v2)).toBeGreaterThan(rvOf(v1));
      expect(v2.spec).toEqual({ n: 2 });

      const conflict = await storageError(
        store.update(r, ns("a", "x"), { ...thing(ns("a", "x")), spec: { n: 3 } }, rvOf(v1)),
        "Conflict",
      );
      expect(conflict.message).toBeTruthy();
      expect(await store.get(r, ns("a", "x"))).toEqual(v2);

      const v3 = await store.update(r, ns("a", "x"), { ...thing(ns("a", "x")), spec: { n: 3 } }, rvOf(v2));
      expect(rvOf(v3)).toBeGreaterThan(rvOf(v2));
      expect(await store.get(r, ns("a", "x"))).toEqual(v3);
    });

    it("lets exactly one of many concurrent updates from the same version win", async () => {
      const { store } = current();
      const r = freshResource();
      const v1 = await store.create(r, ns("a", "x"), thing(ns("a", "x"), undefined, { n: 0 }));
      const outcomes = await Promise.allSettled(
        [1, 2, 3, 4, 5].map((n) =>
          store.update(r, ns("a", "x"), thing(ns("a", "x"), undefined, { n }), rvOf(v1)),
        ),
      );
      const won = outcomes.filter((o) => o.status === "fulfilled");
      expect(won).toHaveLength(1);
      for (const o of outcomes) {
        if (o.status === "rejected") expect(o.reason).toMatchObject({ code: "Conflict" });
      }
      expect(await store.get(r, ns("a", "x"))).toEqual((won[0] as PromiseFulfilledResult<unknown>).value);
    });

    it("deletes with and without a resource version precondition", async () => {
      const { store } = current();
      const r = freshResource();
      const v1 = await store.create(r, ns("a", "x"), thing(ns("a", "x"), { k: "v" }, { n: 1 }));
      const v2 = await store.update(r, ns("a", "x"), thing(ns("a", "x"), { k: "v" }, { n: 2 }), rvOf(v1));
      await storageError(store.delete(r, ns("a", "x"), rvOf(v1)), "Conflict");
      expect(await store.get(r, ns("a", "x"))).toEqual(v2);

      const deleted = await store.delete(r, ns("a", "x"), rvOf(v2));
      expect(deleted.spec).toEqual({ n: 2 });
      expect(deleted.metadata.labels).toEqual({ k: "v" });
      // the last state, stamped with the deletion's own resource version (as a watch's DELETED is)
      expect(rvOf(deleted)).toBeGreaterThan(rvOf(v2));
      await storageError(store.get(r, ns("a", "x")), "KeyNotFound");
      await storageError(store.delete(r, ns("a", "x")), "KeyNotFound");

      await store.create(r, ns("a", "y"), thing(ns("a", "y")));
      await store.delete(r, ns("a", "y"));
      await storageError(store.get(r, ns("a", "y")), "KeyNotFound");

      const again = await store.create(r, ns("a", "x"), thing(ns("a", "x"), undefined, { n: 9 }));
      expect(rvOf(again)).toBeGreaterThan(rvOf(v2));
      expect((await store.get(r, ns("a", "x"))).spec).toEqual({ n: 9 });
    });

    it("assigns strictly increasing resource versions across resources and operations", async () => {
      const { store } = current();
      const r1 = freshResource();
      const r2 = freshResource(false);
      const seen: number[] = [await store.currentResourceVersion()];
      const a = await store.create(r1, ns("a", "x"), thing(ns("a", "x")));
      seen.push(rvOf(a));
      const b = await store.create(r2, cluster("x"), thing(cluster("x")));
      seen.push(rvOf(b));
      seen.push(rvOf(await store.update(r1, ns("a", "x"), thing(ns("a", "x")), rvOf(a))));
      await store.delete(r2, cluster("x"));
      seen.push(await store.currentResourceVersion());
      seen.push(rvOf(await store.create(r2, cluster("y"), thing(cluster("y")))));
      for (let i = 1; i < seen.length; i++)
        expect(seen[i], `step ${i} of ${seen.join(",")}`).toBeGreaterThan(seen[i - 1]);
    });

    it("keeps resources apart, even with the same plural in another group", async () => {
      const { store } = current();
      const r1 = freshResource(true, "one.suite.storage.test");
      const r2 = { ...r1, group: "two.suite.storage.test" };
      await store.create(r1, ns("a", "x"), thing(ns("a", "x"), undefined, { from: 1 }));
      await storageError(store.get(r2, ns("a", "x")), "KeyNotFound");
      await store.create(r2, ns("a", "x"), thing(ns("a", "x"), undefined, { from: 2 }));
      await store.create(r2, ns("a", "y"), thing(ns("a", "y")));
      expect((await store.get(r1, ns("a", "x"))).spec).toEqual({ from: 1 });
      expect((await store.get(r2, ns("a", "x"))).spec).toEqual({ from: 2 });
      expect(keysOf((await list(store, r1)).items)).toEqual(["a/x"]);
      expect(keysOf((await list(store, r2)).items)).toEqual(["a/x", "a/y"]);
      expect(await store.count(r1)).toBe(1);
      expect(await store.count(r2)).toBe(2);
      await store.delete(r1, ns("a", "x"));
      expect((await store.get(r2, ns("a", "x"))).spec).toEqual({ from: 2 });
    });

    it("answers many gets at once, each with its own object or KeyNotFound", async () => {
      // the database backends read concurrent gets in one request (read-batch.ts)
      const { store } = current();
      const r1 = freshResource();
      const r2 = freshResource();
      const rc = freshResource(false);
      for (let i = 0; i < 150; i += 2) {
        const key = ns(`n${i % 7}`, `o${i}`);
        await store.create(r1, key, thing(key, undefined, { in: 1, i }));
      }
      await store.create(r2, ns("n0", "o0"), thing(ns("n0", "o0"), undefined, { in: 2 }));
      await store.create(rc, cluster("o0"), thing(cluster("o0"), undefined, { in: "c" }));
      const gone = await store.create(r1, ns("n1", "gone"), thing(ns("n1", "gone")));
      await store.delete(r1, ns("n1", "gone"), rvOf(gone));
      const specOf = (o: object | string | Buffer) =>
        (typeof o === "string" || Buffer.isBuffer(o) ? JSON.parse(textOf(o)) : o).spec as unknown;
      const codeOf = (err: unknown) => (err as { code?: string }).code;
      // 150 keys of r1, every other one missing, some asked twice, beside other resources' keys
      const wanted = [
        ...Array.from({ length: 150 }, (_, i) => [r1, ns(`n${i % 7}`, `o${i}`)] as const),
        [r1, ns("n0", "o14")] as const,
        [r1, ns("n1", "o0")] as const,
        [r1, ns("n1", "gone")] as const,
        [r2, ns("n0", "o0")] as const,
        [r2, ns("n0", "o2")] as const,
        [rc, cluster("o0")] as const,
        [r1, ns("n0", "o0")] as const,
      ];
      const got = await Promise.all(wanted.map(([r, key]) => store.get(r, key).then(specOf, codeOf)));
      const expected = [
        ...Array.from({ length: 150 }, (_, i) => (i % 2 === 0 ? { in: 1, i } : "KeyNotFound")),
        { in: 1, i: 14 },
        "KeyNotFound",
        "KeyNotFound",
        { in: 2 },
        "KeyNotFound",
        { in: "c" },
        { in: 1, i: 0 },
      ];
      expect(got).toEqual(expected);
      // and as text, at once too
      const texts = await Promise.all(
        wanted
          .slice(0, 10)
          .map(([r, key]) => (store.getEncoded?.(r, key) ?? store.get(r, key)).then(specOf, codeOf)),
      );
      expect(texts).toEqual(expected.slice(0, 10));
    });

    it("stores cluster-scoped objects under their name alone", async () => {
      const { store } = current();
      const r = freshResource(false);
      const c = await store.create(r, cluster("b"), thing(cluster("b")));
      await store.create(r, cluster("a"), thing(cluster("a")));
      expect(c.metadata.namespace).toBeUndefined();
      expect(await store.get(r, cluster("b"))).toEqual(c);
      await storageError(store.create(r, cluster("b"), thing(cluster("b"))), "KeyExists");
      expect(keysOf((await list(store, r)).items)).toEqual(["a", "b"]);
      const updated = await store.update(r, cluster("b"), thing(cluster("b"), { x: "y" }), rvOf(c));
      expect(updated.metadata.labels).toEqual({ x: "y" });
      await store.delete(r, cluster("a"));
      expect(keysOf((await list(store, r)).items)).toEqual(["b"]);
    });

    it("counts the objects of each resource", async () => {
      const { store } = current();
      const r = freshResource();
      expect(await store.count(r)).toBe(0);
      for (const name of ["a", "b", "c"]) await store.create(r, ns("n", name), thing(ns("n", name)));
      await store.create(r, ns("m", "a"), thing(ns("m", "a")));
      expect(await store.count(r)).toBe(4);
      await store.delete(r, ns("n", "b"));
      expect(await store.count(r)).toBe(3);
    });

    it("is ready", async () => {
      await current().store.ready();
      await current().store.ready();
    });

    it("hands out an object as JSON text that decodes to exactly what get returns", async () => {
      const { store } = current();
      const r = freshResource();
      expect(store.getEncoded, "every backend keeps or caches JSON").toBeDefined();
      const getEncoded = store.getEncoded?.bind(store);
      if (!getEncoded) return;
      const body = { results: [{ message: 'a "metadata":{ look-alike', n: 1 }], metadata: { name: "inner" } };
      const created = await store.create(r, ns("a", "j"), thing(ns("a", "j"), { x: "y" }, body));
      expect(JSON.parse(textOf(await getEncoded(r, ns("a", "j"))))).toEqual(await store.get(r, ns("a", "j")));
      const updated = await store.update(r, ns("a", "j"), { ...created, spec: { n: 2 } }, rvOf(created));
      const text = textOf(await getEncoded(r, ns("a", "j")));
      expect(JSON.parse(text)).toEqual(updated);
      expect(JSON.parse(text)).toEqual(await store.get(r, ns("a", "j")));
      await storageError(getEncoded(r, ns("a", "missing")), "KeyNotFound");
    });

    it("answers a write with the same JSON text a read of it returns, and freezes what it answers", async () => {
      const { store } = current();
      const r = freshResource();
      const body = { results: [{ message: "m", n: 1 }], summary: { pass: 1 } };
      const created = await store.create(r, ns("a", "w"), thing(ns("a", "w"), { x: "y" }, body));
      expect(toJson(created)).toBe(textOf((await store.getEncoded?.(r, ns("a", "w"))) ?? ""));
      const updated = await store.update(
        r,
        ns("a", "w"),
        { ...thing(ns("a", "w"), { x: "z" }, body), spec: { n: 2 } },
        rvOf(created),
      );
      expect(toJson(updated)).toBe(textOf((await store.getEncoded?.(r, ns("a", "w"))) ?? ""));
      expect(JSON.parse(toJson(updated))).toEqual(updated);
      // a frozen answer is what lets the text be reused: nobody can change the object under it
      expect(Object.isFrozen(updated) && Object.isFrozen(updated.metadata)).toBe(true);
      expect(Object.isFrozen(updated.spec)).toBe(true);
    });
  });
}
