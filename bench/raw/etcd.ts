import type { Subject } from "../subject.js";
export async function startRawEtcd(): Promise<Subject> {
  throw new Error("not yet");
}
