import type { KubeObject } from "../../apimachinery/types.js";
import type { ObjectKey } from "../interface.js";
import { SortedKeys } from "./key-order.js";
import { LabelIndex } from "./label-index.js";

export interface Entry {
  key: ObjectKey;
  object: KubeObject;
}

/** The objects of one resource: a map for point reads, and their keys in list order for pages. */
export class Table {
  private readonly entries = new Map<string, Entry>();
  readonly order = new SortedKeys();
  readonly labels = new LabelIndex();

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
    const old = this.entries.get(key);
    this.entries.set(key, entry);
    if (old) {
      this.labels.replace(key, old.object.metadata.labels, entry.object.metadata.labels);
      return;
    }
    this.order.insert(key);
    this.labels.add(key, entry.object.metadata.labels);
  }

  delete(key: string): void {
    const old = this.entries.get(key);
    if (!old) return;
    this.entries.delete(key);
    this.order.remove(key);
    this.labels.remove(key, old.object.metadata.labels);
  }
}
