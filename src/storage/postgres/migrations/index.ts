import { initial } from "./001_initial.js";

/** Every schema change, in order. Append only: an applied migration is never edited or removed. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const migrations: readonly Migration[] = [{ version: 1, name: "initial", sql: initial }];
