import { StatusError } from "../../src/apimachinery/status.js";

/** The StatusError `fn` throws; fails the test when it throws something else or nothing. */
export function rejection(fn: () => unknown): StatusError {
  try {
    fn();
  } catch (e) {
    if (e instanceof StatusError) return e;
    throw e;
  }
  throw new Error("expected a StatusError");
}
