/**
 * Keys kept in the byte order of their UTF-8 encoding (the order of `compareKeys` and of etcd), with
 * binary search so that a page starts where it starts instead of scanning from the first key.
 */

/**
 * UTF-8 byte order of two strings without encoding them: it is code point order, which differs from
 * JavaScript's UTF-16 code unit order only when a surrogate meets a unit in U+E000..U+FFFF.
 */
export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return x >= 0xd800 && y >= 0xd800 ? codePointRank(x) - codePointRank(y) : x - y;
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  // surrogates encode code points above U+FFFF, so they rank above U+E000..U+FFFF
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}

/** A sorted set of strings; inserts and removes move the tail (memmove), lookups are O(log n). */
export class SortedKeys {
  private readonly keys: string[] = [];

  get size(): number {
    return this.keys.length;
  }

  at(index: number): string {
    return this.keys[index];
  }

  /** Index of the first key >= `key`. */
  lowerBound(key: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareUtf8(this.keys[mid], key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of the first key > `key`. */
  upperBound(key: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareUtf8(this.keys[mid], key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Adds a key that is not present. */
  insert(key: string): void {
    const i = this.lowerBound(key);
    if (i === this.keys.length) this.keys.push(key);
    else this.keys.splice(i, 0, key);
  }

  remove(key: string): void {
    const i = this.lowerBound(key);
    if (this.keys[i] === key) this.keys.splice(i, 1);
  }

  /** The index range [start, end) of the keys that begin with `prefix` (which ends in "/"). */
  prefixRange(prefix: string): [number, number] {
    // every key starting with "ns/" sorts in ["ns/", "ns0"): "0" is the code point after "/"
    const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
    return [this.lowerBound(prefix), this.lowerBound(end)];
  }
}
