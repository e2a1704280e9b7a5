import { isKubeApiError } from "./kubeclient.js";
import { jitter, sleep } from "./sleep.js";

/**
 * TokenReviews and SubjectAccessReviews are retried as k8s.io/apiserver's webhooks retry them
 * (DefaultAuthWebhookRetryBackoff: 500 ms, ×1.5, jitter 0.2, five tries; DefaultShouldRetry), so a
 * kube-apiserver that restarts or sheds load for a moment does not fail the requests waiting on it.
 */
const STEPS = 5;
const FIRST_DELAY_MS = 500;
const FACTOR = 1.5;
const JITTER = 0.2;

/** What DefaultShouldRetry retries: no answer (a reset or lost connection, a timeout), 429, 500, 503, 504. */
function transient(err: unknown): boolean {
  return isKubeApiError(err) && [0, 429, 500, 503, 504].includes(err.code);
}

export async function withWebhookRetry<T>(call: () => Promise<T>): Promise<T> {
  let delay = FIRST_DELAY_MS;
  for (let step = 1; ; step++) {
    try {
      return await call();
    } catch (err) {
      if (step >= STEPS || !transient(err)) throw err;
      await sleep(jitter(delay, JITTER));
      delay *= FACTOR;
    }
  }
}
