import type { Subject } from "../subject.js";
export async function startRawPostgres(): Promise<Subject> {
  throw new Error("not yet");
}
