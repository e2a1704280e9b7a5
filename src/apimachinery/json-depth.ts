/**
 * How deep a request's JSON may nest. Go's decoder stops at 10,000; the server's own recursive
 * walks (merge patches, pruning, cloning) run out of stack a little beyond 2,000, and no report
 * nests past a dozen levels, so bodies stop at 1,000 with a 400 instead of a 500 halfway through.
 */
export const MAX_JSON_DEPTH = 1000;

/**
 * Whether already-parsed JSON text nests deeper than `max` objects and arrays. One pass; strings are
 * skipped with indexOf, so their brackets do not count.
 */
export function jsonNestsDeeperThan(text: string, max = MAX_JSON_DEPTH): boolean {
  // every level costs at least two characters, and an opening bracket: most bodies (a report of
  // 100 results has about 600 brackets) are cleared by counting brackets with indexOf alone
  if (text.length <= 2 * max || openersAtMost(text, max)) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      i = jsonStringEnd(text, i);
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > max) return true;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    }
  }
  return false;
}

/** The index of the quote that closes the JSON string opened at `start` (the text's length if none). */
export function jsonStringEnd(text: string, start: number): number {
  let i = start + 1;
  for (;;) {
    const q = text.indexOf('"', i);
    if (q < 0) return text.length;
    let backslashes = 0;
    for (let j = q - 1; text.charCodeAt(j) === 0x5c; j--) backslashes++;
    if (backslashes % 2 === 0) return q;
    i = q + 1;
  }
}

/** Whether the text holds at most `max` opening brackets, strings included. */
function openersAtMost(text: string, max: number): boolean {
  let n = 0;
  for (const bracket of ["[", "{"]) {
    for (let i = text.indexOf(bracket); i >= 0; i = text.indexOf(bracket, i + 1)) if (++n > max) return false;
  }
  return true;
}
