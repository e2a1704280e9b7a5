import type { KubeObject } from "../../apimachinery/types.js";
import type { ObjectKey } from "../interface.js";
import { SortedKeys } from "./key-order.js";

export interface Entry {
  key: ObjectKey;
  object: KubeObject;
}

/** The objects of one resource: a map for point reads, and their keys in list order for pages. */
export class Table {
  private readonly entries = new Map<string, Entry>();
  readonly order = new SortedKeys();

  get size(): number {
    return this.entries.size;
  }

  get(key: string): Entry | undefined {
    return this.entries.get(key);
  }

  /** The entry at a position of the key order. */
  at(index: number): Entry {
    return this.entries.get(this.order.at(index)) as Entry;
  }

  set(key: string, entry: Entry): void {
    if (!this.entries.has(key)) this.order.insert(key);
    this.entries.set(key, entry);
  }

  delete(key: string): void {
    if (this.entries.delete(key)) this.order.remove(key);
  }
}
