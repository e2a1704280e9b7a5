import { initial } from "./001_initial.js";
import { changelogInline } from "./002_changelog_inline.js";
import { lz4 } from "./003_lz4.js";
import { labelValuesIndex } from "./004_label_values_index.js";

/** Every schema change, in order. Append only: an applied migration is never edited or removed. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const migrations: readonly Migration[] = [
  { version: 1, name: "initial", sql: initial },
  { version: 2, name: "changelog-inline", sql: changelogInline },
  { version: 3, name: "lz4", sql: lz4 },
  { version: 4, name: "label-values-index", sql: labelValuesIndex },
];
