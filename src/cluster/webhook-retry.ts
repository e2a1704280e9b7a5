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

/**
 * DefaultShouldRetry: a connection reset, an internal error (500), a timeout (504), 429, or an answer
 * that asks to be retried later (retryAfterSeconds, or the ServerTimeout reason). Not a refused
 * connection, nor a request that got no answer in time: the kube-apiserver is away, and five more
 * tries would only hold the request up.
 */
function transient(err: unknown): boolean {
  if (!isKubeApiError(err)) return false;
  if (err.code === 0) return err.reason === "ConnectionReset";
  if ([429, 500, 504].includes(err.code)) return true;
  return err.reason === "ServerTimeout" || (err.status?.details?.retryAfterSeconds ?? 0) > 0;
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
