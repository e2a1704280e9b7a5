import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../../src/apimachinery/types.js";
import type { LabelSelector, FieldSelector } from "../../../src/apimachinery/selector-ast.js";
import { compareKeys } from "../../../src/storage/interface.js";
import type { ListOptions, ObjectKey, Storage, StorageResource } from "../../../src/storage/interface.js";
import type { StoreUnderTest } from "./helpers.js";
import {
  cluster,
  decodeEncoded,
  fields,
  freshResource,
  keysOf,
  labels,
  list,
  listAllPages,
  ns,
  rvOf,
  storageError,
  thing,
} from "./helpers.js";

async function createAll(
  store: Storage,
  r: StorageResource,
  keys: ObjectKey[],
  labelsOf: (k: ObjectKey) => Record<string, string> | undefined = () => undefined,
): Promise<KubeObject[]> {
  const out: KubeObject[] = [];
  for (const key of keys) out.push(await store.create(r, key, thing(key, labelsOf(key))));
  return out;
}

function sortedKeys(keys: ObjectKey[]): string[] {
  return keysOf([...keys].sort(compareKeys).map((k) => thing(k)));
}

/** Lists: order, namespaces, selectors, paging, read consistency. */
export function listTests(current: () => StoreUnderTest): void {
  describe("lists", () => {
    it("lists across namespaces in the byte order of namespace/name, and one namespace alone", async () => {
      const { store } = current();
      const r = freshResource();
      const keys = ["ab", "ab-c", "abc", "a", "b"].flatMap((n) =>
        ["x", "x.y", "x-y", "x0", "a"].map((name) => ns(n, name)),
      );
      // created in a scrambled order
      await createAll(
        store,
        r,
        [...keys].reverse().filter((_, i) => i % 2 === 0),
      );
      await createAll(
        store,
        r,
        [...keys].reverse().filter((_, i) => i % 2 === 1),
      );
      const all = keysOf((await list(store, r)).items);
      expect(all).toEqual(sortedKeys(keys));
      // byte order of the whole key, not (namespace, name): "-" sorts before "/"
      expect(all.indexOf("ab-c/x")).toBeLessThan(all.indexOf("ab/a"));
      expect(all.indexOf("ab/x0")).toBeLessThan(all.indexOf("abc/a"));

      expect(keysOf((await list(store, r, { namespace: "ab" })).items)).toEqual(
        sortedKeys(keys.filter((k) => k.namespace === "ab")),
      );
      expect(keysOf((await list(store, r, { namespace: "a" })).items)).toEqual([
        "a/a",
        "a/x",
        "a/x-y",
        "a/x.y",
        "a/x0",
      ]);
      expect((await list(store, r, { namespace: "nothing-here" })).items).toEqual([]);
      expect((await list(store, freshResource())).items).toEqual([]);
    });

    it("lists cluster-scoped objects in name order", async () => {
      const { store } = current();
      const r = freshResource(false);
      const keys = ["b", "a-b", "a", "a.b", "ab", "a0"].map(cluster);
      await createAll(store, r, keys);
      expect(keysOf((await list(store, r)).items)).toEqual(sortedKeys(keys));
      expect(
        keysOf(
          (await list(store, r, { fieldSelector: fields({ field: "metadata.name", op: "=", value: "ab" }) }))
            .items,
        ),
      ).toEqual(["ab"]);
    });

    it("answers with a resource version that covers every write before the list, to any resource", async () => {
      const { store } = current();
      const r = freshResource();
      const created = await store.create(r, ns("a", "x"), thing(ns("a", "x")));
      const other = await store.create(freshResource(), ns("a", "x"), thing(ns("a", "x")));
      const result = await list(store, r);
      expect(result.resourceVersion).toBeGreaterThanOrEqual(rvOf(other));
      expect(result.items).toEqual([created]);
      for (const item of result.items) expect(rvOf(item)).toBeLessThanOrEqual(result.resourceVersion);
      expect(result.continueAfter).toBeUndefined();
    });

    it("filters by labels with every operator", async () => {
      const { store } = current();
      const r = freshResource();
      const objects: Record<string, Record<string, string>> = {
        a: { env: "prod", tier: "web" },
        b: { env: "dev" },
        c: { env: "", tier: "db" },
        d: {},
        e: { "audit.kyverno.io/resource.uid": "0b5e-11", env: "prod" },
      };
      for (const [name, l] of Object.entries(objects))
        await store.create(r, ns("l", name), thing(ns("l", name), l));
      await store.create(r, ns("m", "z"), thing(ns("m", "z"), { env: "prod" }));
      const cases: [string, LabelSelector, string[]][] = [
        ["env=prod", labels({ key: "env", op: "=", value: "prod" }), ["a", "e", "z"]],
        ["env!=prod", labels({ key: "env", op: "!=", value: "prod" }), ["b", "c", "d"]],
        [
          "env in (dev,prod)",
          labels({ key: "env", op: "in", values: ["dev", "prod"] }),
          ["a", "b", "e", "z"],
        ],
        ["env notin (dev,prod)", labels({ key: "env", op: "notin", values: ["dev", "prod"] }), ["c", "d"]],
        ["env", labels({ key: "env", op: "exists" }), ["a", "b", "c", "e", "z"]],
        ["!env", labels({ key: "env", op: "!" }), ["d"]],
        ["!tier", labels({ key: "tier", op: "!" }), ["b", "d", "e", "z"]],
        ["env=", labels({ key: "env", op: "=", value: "" }), ["c"]],
        [
          "env=prod,tier=web",
          labels({ key: "env", op: "=", value: "prod" }, { key: "tier", op: "=", value: "web" }),
          ["a"],
        ],
        [
          "env in (prod),!tier",
          labels({ key: "env", op: "in", values: ["prod"] }, { key: "tier", op: "!" }),
          ["e", "z"],
        ],
        ["prefixed key", labels({ key: "audit.kyverno.io/resource.uid", op: "=", value: "0b5e-11" }), ["e"]],
        ["tier in (db,web)", labels({ key: "tier", op: "in", values: ["db", "web"] }), ["a", "c"]],
        ["no such label", labels({ key: "nope", op: "exists" }), []],
        ["everything", labels(), ["a", "b", "c", "d", "e", "z"]],
      ];
      for (const [what, selector, expected] of cases) {
        const names = (await list(store, r, { labelSelector: selector })).items.map((o) => o.metadata.name);
        expect(names, what).toEqual(expected);
        const inL = (await list(store, r, { namespace: "l", labelSelector: selector })).items.map(
          (o) => o.metadata.name,
        );
        expect(inL, `${what} in namespace l`).toEqual(expected.filter((n) => n !== "z"));
      }
    });

    it("filters by the labels an update left: changed, removed, added and kept", async () => {
      const { store } = current();
      const r = freshResource();
      const start: Record<string, Record<string, string>> = {
        a: { env: "prod", tier: "web", keep: "x" },
        b: { env: "dev" },
        c: { env: "prod" },
      };
      const stored: Record<string, KubeObject> = {};
      for (const [name, l] of Object.entries(start))
        stored[name] = await store.create(r, ns("u", name), thing(ns("u", name), l));
      // a: env changed, tier removed, owner added, keep kept; b: unchanged; c: every label removed
      const after: Record<string, Record<string, string> | undefined> = {
        a: { env: "dev", keep: "x", owner: "team" },
        b: { env: "dev" },
        c: undefined,
      };
      for (const [name, l] of Object.entries(after))
        await store.update(r, ns("u", name), thing(ns("u", name), l), rvOf(stored[name]), stored[name]);
      const cases: [LabelSelector, string[]][] = [
        [labels({ key: "env", op: "=", value: "prod" }), []],
        [labels({ key: "env", op: "=", value: "dev" }), ["a", "b"]],
        [labels({ key: "tier", op: "exists" }), []],
        [labels({ key: "tier", op: "=", value: "web" }), []],
        [labels({ key: "owner", op: "=", value: "team" }), ["a"]],
        [labels({ key: "keep", op: "in", values: ["x"] }), ["a"]],
        [labels({ key: "env", op: "!" }), ["c"]],
      ];
      for (const [selector, expected] of cases) {
        const names = (await list(store, r, { labelSelector: selector })).items.map((o) => o.metadata.name);
        expect(names, JSON.stringify(selector)).toEqual(expected);
      }
    });

    it("filters by gt / lt as Requirement.Matches does: the label must be an int64, compared as a number", async () => {
      const { store } = current();
      const r = freshResource();
      // Storage takes any label value: the API validates labels, the store must still never fail on one.
      const priorities: Record<string, string | undefined> = {
        p01: "1",
        p05: "5",
        p06: "6",
        p10: "10",
        p007: "007",
        plus8: "+8",
        neg3: "-3",
        negzero: "-0",
        max: "9223372036854775807",
        min: "-9223372036854775808",
        over: "9223372036854775808",
        huge: "99999999999999999999999999",
        big53: "9007199254740993",
        text: "high",
        float: "6.5",
        exp: "1e3",
        hex: "0x10",
        spaced: " 7",
        empty: "",
        none: undefined,
      };
      for (const [name, p] of Object.entries(priorities)) {
        const key = ns("g", name);
        await store.create(r, key, thing(key, p === undefined ? { other: "9" } : { priority: p }));
      }
      const gt = (value: bigint) => ({ key: "priority", op: "gt" as const, value });
      const lt = (value: bigint) => ({ key: "priority", op: "lt" as const, value });
      const cases: [string, LabelSelector, string[]][] = [
        // in key order: "p007" sorts before "p01"
        ["priority>5", labels(gt(5n)), ["big53", "max", "p007", "p06", "p10", "plus8"]],
        ["priority<6", labels(lt(6n)), ["min", "neg3", "negzero", "p01", "p05"]],
        ["priority>5,priority<10", labels(gt(5n), lt(10n)), ["p007", "p06", "plus8"]],
        ["priority<0", labels(lt(0n)), ["min", "neg3"]],
        [
          "priority>-1 (the parser never makes it: -1 is no label value)",
          labels(gt(-1n)),
          ["big53", "max", "negzero", "p007", "p01", "p05", "p06", "p10", "plus8"],
        ],
        ["priority>9223372036854775806", labels(gt(9223372036854775806n)), ["max"]],
        ["priority>9223372036854775807", labels(gt(9223372036854775807n)), []],
        ["priority<-9223372036854775807", labels(lt(-9223372036854775807n)), ["min"]],
        ["priority>9007199254740992 (beyond 2^53)", labels(gt(9007199254740992n)), ["big53", "max"]],
        ["priority>9007199254740993", labels(gt(9007199254740993n)), ["max"]],
        ["other>5", labels({ key: "other", op: "gt", value: 5n }), ["none"]],
        ["nolabel<5", labels({ key: "nolabel", op: "lt", value: 5n }), []],
        [
          "priority>5,!other",
          labels(gt(5n), { key: "other", op: "!" }),
          ["big53", "max", "p007", "p06", "p10", "plus8"],
        ],
      ];
      for (const [what, selector, expected] of cases) {
        const names = (await list(store, r, { labelSelector: selector })).items.map((o) => o.metadata.name);
        expect(names, what).toEqual(expected);
        const paged = await listAllPages(store, r, { labelSelector: selector, limit: 2 });
        expect(
          paged.items.map((o) => o.metadata.name),
          `${what}, 2 at a time`,
        ).toEqual(expected);
      }
    });

    it("answers gt / lt beside an indexed equality from the index's candidates, still comparing numbers", async () => {
      const { store } = current();
      const r = freshResource();
      // 40 objects, 3 in the wanted group: few enough for each backend's label index to be used.
      for (let i = 0; i < 40; i++) {
        const key = ns("h", `o${String(i).padStart(2, "0")}`);
        const group = i === 4 || i === 11 || i === 30 ? "wanted" : `g${i}`;
        await store.create(r, key, thing(key, { group, n: String(i) }));
      }
      const group = { key: "group", op: "=" as const, value: "wanted" };
      const cases: [string, LabelSelector, string[]][] = [
        ["group=wanted,n>4", labels(group, { key: "n", op: "gt", value: 4n }), ["o11", "o30"]],
        ["group=wanted,n<11", labels(group, { key: "n", op: "lt", value: 11n }), ["o04"]],
        [
          "group in (wanted),n>100",
          labels({ key: "group", op: "in", values: ["wanted"] }, { key: "n", op: "gt", value: 100n }),
          [],
        ],
        ["n>35 alone", labels({ key: "n", op: "gt", value: 35n }), ["o36", "o37", "o38", "o39"]],
      ];
      for (const [what, selector, expected] of cases) {
        expect(
          (await list(store, r, { labelSelector: selector })).items.map((o) => o.metadata.name),
          what,
        ).toEqual(expected);
        const inH = await list(store, r, { namespace: "h", labelSelector: selector, limit: 1 });
        expect(
          inH.items.map((o) => o.metadata.name),
          `${what}, first page of one`,
        ).toEqual(expected.slice(0, 1));
      }
    });

    it("filters by metadata.name and metadata.namespace", async () => {
      const { store } = current();
      const r = freshResource();
      await createAll(store, r, [ns("f1", "n1"), ns("f1", "n2"), ns("f2", "n1"), ns("f10", "n1")]);
      const name = (op: "=" | "!=", value: string) => ({ field: "metadata.name" as const, op, value });
      const space = (op: "=" | "!=", value: string) => ({ field: "metadata.namespace" as const, op, value });
      const cases: [string, string | undefined, FieldSelector, string[]][] = [
        ["name=n1", undefined, fields(name("=", "n1")), ["f1/n1", "f10/n1", "f2/n1"]],
        ["name!=n1", undefined, fields(name("!=", "n1")), ["f1/n2"]],
        ["namespace=f1", undefined, fields(space("=", "f1")), ["f1/n1", "f1/n2"]],
        ["namespace!=f1", undefined, fields(space("!=", "f1")), ["f10/n1", "f2/n1"]],
        ["name=n1,namespace=f2", undefined, fields(name("=", "n1"), space("=", "f2")), ["f2/n1"]],
        ["in f1: name=n1", "f1", fields(name("=", "n1")), ["f1/n1"]],
        ["in f1: name=n3", "f1", fields(name("=", "n3")), []],
        ["in f1: name!=n1", "f1", fields(name("!=", "n1")), ["f1/n2"]],
        ["in f1: namespace=f2", "f1", fields(space("=", "f2")), []],
        ["in f1: namespace=f1", "f1", fields(space("=", "f1")), ["f1/n1", "f1/n2"]],
      ];
      for (const [what, namespace, selector, expected] of cases) {
        expect(keysOf((await list(store, r, { namespace, fieldSelector: selector })).items), what).toEqual(
          expected,
        );
      }
    });

    it("pages with limit and continue: every item once, in order, with the first page's resource version", async () => {
      const { store } = current();
      const r = freshResource();
      const keys = Array.from({ length: 10 }, (_, i) => ns(i % 2 ? "p" : "q", `item-${i}`));
      await createAll(store, r, keys);
      const { items, pages } = await listAllPages(store, r, { limit: 3 });
      expect(keysOf(items)).toEqual(sortedKeys(keys));
      expect(pages.length).toBeGreaterThanOrEqual(4);
      let seen = 0;
      for (const page of pages) {
        seen += page.items.length;
        if (page.remainingItemCount !== undefined) expect(page.remainingItemCount).toBe(keys.length - seen);
        if (page.continueAfter)
          expect(keysOf(page.items).at(-1)).toBe(keysOf([thing(page.continueAfter)])[0]);
      }
      expect(pages[0].items).toHaveLength(3);

      const one = await listAllPages(store, r, { limit: 2, namespace: "p" });
      expect(keysOf(one.items)).toEqual(sortedKeys(keys.filter((k) => k.namespace === "p")));

      const whole = await list(store, r, { limit: 10 });
      expect(whole.items).toHaveLength(10);
      expect(keysOf(whole.items)).toEqual(sortedKeys(keys));
      const unlimited = await list(store, r, { limit: 0 });
      expect(unlimited.items).toHaveLength(10);
      expect(unlimited.continueAfter).toBeUndefined();
      const more = await list(store, r, { limit: 11 });
      expect(more.continueAfter).toBeUndefined();
    });

    it("pages through selected items: every match once, pages never over the limit", async () => {
      const { store } = current();
      const r = freshResource();
      const keys = Array.from({ length: 24 }, (_, i) => ns(`s${i % 3}`, `o${String(i).padStart(2, "0")}`));
      await createAll(store, r, keys, (k) => ({ pick: String(Number(k.name.slice(1)) % 4 === 0) }));
      const selector = labels({ key: "pick", op: "=", value: "true" });
      const { items } = await listAllPages(store, r, { limit: 2, labelSelector: selector });
      expect(keysOf(items)).toEqual(sortedKeys(keys.filter((k) => Number(k.name.slice(1)) % 4 === 0)));
      const fielded = await listAllPages(store, r, {
        limit: 3,
        fieldSelector: fields({ field: "metadata.namespace", op: "!=", value: "s1" }),
      });
      expect(keysOf(fielded.items)).toEqual(sortedKeys(keys.filter((k) => k.namespace !== "s1")));
    });

    it("continues after a key that was deleted since the page was read", async () => {
      const { store } = current();
      const r = freshResource();
      const keys = ["a", "b", "c", "d", "e"].map((name) => ns("d", name));
      await createAll(store, r, keys);
      const first = await list(store, r, { limit: 2 });
      expect(keysOf(first.items)).toEqual(["d/a", "d/b"]);
      expect(first.continueAfter).toEqual(ns("d", "b"));
      await store.delete(r, ns("d", "b"));
      const next = await list(store, r, {
        limit: 2,
        continueFrom: { after: ns("d", "b"), resourceVersion: first.resourceVersion },
      });
      expect(keysOf(next.items)).toEqual(["d/c", "d/d"]);
      expect(next.resourceVersion).toBe(first.resourceVersion);
    });

    it("pages through a stable set exactly once while other objects come and go", async () => {
      const { store } = current();
      const r = freshResource();
      const stable = Array.from({ length: 20 }, (_, i) =>
        ns(`n${i % 4}`, `keep-${String(i).padStart(2, "0")}`),
      );
      await createAll(store, r, stable);
      let churn = 0;
      const live: ObjectKey[] = [];
      const { items, pages } = await listAllPages(store, r, { limit: 3 }, async () => {
        // around the stable keys: before and after the position the list has reached
        for (const namespace of ["n0", "n2", "n3", "m"]) {
          const key = ns(namespace, `churn-${churn++}`);
          await store.create(r, key, thing(key));
          live.push(key);
        }
        const gone = live.splice(0, 2);
        for (const key of gone) await store.delete(r, key);
        await store.create(freshResource(), ns("n1", "elsewhere"), thing(ns("n1", "elsewhere")));
      });
      const got = keysOf(items);
      expect(got.filter((k) => k.includes("/keep-"))).toEqual(sortedKeys(stable));
      expect(new Set(got).size, "no key twice").toBe(got.length);
      expect(got, "key order").toEqual(
        [...got].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
      );
      for (const p of pages) expect(p.resourceVersion).toBe(pages[0].resourceVersion);
    });

    it("pages through a stable set exactly once while writers run in parallel", async () => {
      const { store } = current();
      const r = freshResource();
      const stable = Array.from({ length: 30 }, (_, i) =>
        ns(`p${i % 3}`, `keep-${String(i).padStart(2, "0")}`),
      );
      await createAll(store, r, stable);
      let paging = true;
      const writer = async (w: number) => {
        for (let i = 0; paging; i++) {
          const key = ns(`p${i % 4}`, `w${w}-${i}`);
          await store.create(r, key, thing(key));
          if (i % 2 === 1) await store.delete(r, key);
        }
      };
      const writers = [writer(0), writer(1)];
      try {
        const { items } = await listAllPages(store, r, { limit: 4 });
        const got = keysOf(items);
        expect(got.filter((k) => k.includes("/keep-"))).toEqual(sortedKeys(stable));
        expect(new Set(got).size, "no key twice").toBe(got.length);
      } finally {
        paging = false;
        await Promise.all(writers);
      }
    });

    it("honours read consistency: latest, any, not older than N, exactly N", async () => {
      const { store } = current();
      const r = freshResource();
      const a = await store.create(r, ns("c", "a"), thing(ns("c", "a")));
      const b = await store.create(r, ns("c", "b"), thing(ns("c", "b")));
      const [rvA, rvB] = [rvOf(a), rvOf(b)];

      const latest = await list(store, r, { consistency: { kind: "latest" } });
      expect(latest.resourceVersion).toBeGreaterThanOrEqual(rvB);
      expect(keysOf(latest.items)).toEqual(["c/a", "c/b"]);

      const any = await list(store, r, { consistency: { kind: "any" } });
      expect(any.resourceVersion).toBeGreaterThan(0);
      expect(keysOf(any.items)).toEqual(
        ["c/a", "c/b"].slice(0, any.resourceVersion >= rvB ? 2 : any.resourceVersion >= rvA ? 1 : 0),
      );

      const notOlder = await list(store, r, { consistency: { kind: "notOlderThan", resourceVersion: rvA } });
      expect(notOlder.resourceVersion).toBeGreaterThanOrEqual(rvA);
      expect(keysOf(notOlder.items)).toEqual(notOlder.resourceVersion >= rvB ? ["c/a", "c/b"] : ["c/a"]);

      // exactly N: the state at N, or Compacted when that state is no longer kept
      for (const [rv, expected] of [
        [rvB, ["c/a", "c/b"]],
        [rvA, ["c/a"]],
      ] as const) {
        const exact = await list(store, r, { consistency: { kind: "exact", resourceVersion: rv } }).catch(
          (e: unknown) => e,
        );
        if (exact instanceof Error) {
          expect(exact).toMatchObject({ code: "Compacted" });
          expect(await store.currentResourceVersion()).toBeGreaterThan(rv);
        } else {
          const result = exact as Awaited<ReturnType<typeof list>>;
          expect(result.resourceVersion).toBe(rv);
          expect(keysOf(result.items)).toEqual(expected);
        }
      }

      const now = await store.currentResourceVersion();
      const future = now + 1_000_000;
      const tooLarge = await storageError(
        list(store, r, { consistency: { kind: "notOlderThan", resourceVersion: future } }),
        "TooLargeResourceVersion",
      );
      if (tooLarge.resourceVersion !== undefined)
        expect(tooLarge.resourceVersion).toBeGreaterThanOrEqual(now);
      await storageError(
        list(store, r, { consistency: { kind: "exact", resourceVersion: future } }),
        "TooLargeResourceVersion",
      );
    });

    it("reads a past state by label even when a report's strings hold a NUL character", async () => {
      const { store } = current();
      const r = freshResource();
      const key = ns("c", "a");
      const made = await store.create(r, key, thing(key, { app: "x" }, { message: "x\u0000y" }));
      await store.update(r, key, { ...made, spec: { message: "changed\u0000" } }, rvOf(made));
      const at = await list(store, r, {
        consistency: { kind: "exact", resourceVersion: rvOf(made) },
        labelSelector: labels({ key: "app", op: "=", value: "x" }),
        limit: 1,
      });
      expect(at.items.map((o) => o.spec)).toEqual([{ message: "x\u0000y" }]);
    });

    it("reads an exact resource version right after a write to another resource", async () => {
      const { store } = current();
      const r = freshResource();
      const a = await store.create(r, ns("c", "a"), thing(ns("c", "a")));
      await store.create(freshResource(), ns("c", "a"), thing(ns("c", "a")));
      const now = await store.currentResourceVersion();
      const exact = await list(store, r, { consistency: { kind: "exact", resourceVersion: now } }).catch(
        (e: unknown) => e,
      );
      if (exact instanceof Error) {
        // only when something else wrote in between
        expect(exact).toMatchObject({ code: "Compacted" });
        expect(await store.currentResourceVersion()).toBeGreaterThan(now);
      } else {
        expect(exact).toMatchObject({ resourceVersion: now, items: [a] });
      }
    });

    it("answers a list asked for as JSON text with exactly the page it would decode to", async () => {
      const { store } = current();
      const r = freshResource();
      const keys = Array.from({ length: 9 }, (_, i) => ns(`e${i % 3}`, `json-${i}`));
      await createAll(store, r, keys, (k) => ({ odd: String(Number(k.name.slice(5)) % 2 === 1) }));
      // one object changed after the pages' resource version is pinned, so a continued page is a past read
      const cases: Partial<ListOptions>[] = [
        { limit: 4 },
        { limit: 2, labelSelector: labels({ key: "odd", op: "=", value: "true" }) },
        { limit: 2, fieldSelector: fields({ field: "metadata.namespace", op: "=", value: "e1" }) },
        { limit: 0 },
      ];
      for (const options of cases) {
        const first = await list(store, r, options);
        const firstEncoded = await list(store, r, { ...options, encoded: true });
        let plain = first;
        let encoded = firstEncoded;
        for (let page = 0; ; page++) {
          const decoded = encoded.encoded ? encoded.encoded.map(decodeEncoded) : encoded.items;
          expect(decoded, `page ${page} of ${JSON.stringify(options)}`).toEqual(plain.items);
          if (encoded.encoded) expect(encoded.items).toEqual([]);
          expect(encoded.continueAfter).toEqual(plain.continueAfter);
          expect(encoded.remainingItemCount).toEqual(plain.remainingItemCount);
          expect(encoded.resourceVersion).toBe(plain.resourceVersion);
          if (!plain.continueAfter) break;
          if (page === 0) {
            const victim = plain.items[plain.items.length - 1];
            const key = ns(victim.metadata.namespace ?? "", victim.metadata.name ?? "");
            const next = keys.filter((k) => compareKeys(k, key) > 0).at(-1);
            if (next) {
              const cur = await store.get(r, next);
              await store.update(r, next, { ...cur, spec: { changed: true } }, rvOf(cur));
            }
          }
          const continueFrom = { after: plain.continueAfter, resourceVersion: first.resourceVersion };
          plain = await list(store, r, { ...options, continueFrom });
          encoded = await list(store, r, { ...options, continueFrom, encoded: true });
        }
      }
    });
  });
}
