import {
  alreadyExists,
  conflict,
  expired,
  notFound,
  OBJECT_MODIFIED,
  resourceVersionTooLarge,
  serviceUnavailable,
  StatusError,
  type GroupResource,
} from "../apimachinery/status.js";
import { StorageError } from "../storage/interface.js";

export const CONTINUE_EXPIRED =
  "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

/** Storage speaks backend-neutral codes; the registry names the resource (k8s storage → api errors). */
export function storageToStatus(err: unknown, gr: GroupResource, name: string): unknown {
  if (!(err instanceof StorageError)) return err;
  switch (err.code) {
    case "KeyNotFound":
      return notFound(gr, name);
    case "KeyExists":
      return alreadyExists(gr, name);
    case "Conflict":
      return conflict(gr, name, OBJECT_MODIFIED);
    case "Compacted":
      // (an expired continue token is answered by the list itself, with a token for the rest)
      return expired(`The resourceVersion for the provided list is too old.`);
    case "TooLargeResourceVersion":
      return resourceVersionTooLarge(0, err.resourceVersion ?? 0);
    case "Unavailable":
      return serviceUnavailable(`storage is unavailable: ${err.message}`);
    case "TooSlow":
      return new StatusError(500, "InternalError", err.message);
  }
}
