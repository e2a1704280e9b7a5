/**
 * Kubernetes `Status` errors. Errors are typed where they arise and rendered once at the edge
 * (see k8s.io/apimachinery/pkg/api/errors): every layer throws StatusError, the server writes it.
 */

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: "Status";
  apiVersion: "v1";
  /** A list's metadata: only an expired continue token's replacement is ever set. */
  metadata: { continue?: string };
  status: "Success" | "Failure";
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code?: number;
}

/**
 * What a DELETE that removed the object answers (the generic store's finalizeDelete, as custom
 * resources get it: they do not return the deleted object). `kind` holds the resource, as there.
 */
export function deletedStatus(gr: GroupResource, name: string, uid: string | undefined): Status {
  const details: StatusDetails = { name, group: gr.group, kind: gr.resource };
  if (uid) details.uid = uid;
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", details };
}

/** Identifies a resource in error messages: `policyreports.wgpolicyk8s.io`. */
export interface GroupResource {
  group: string;
  resource: string;
}

export class StatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
    /** metadata.continue of the Status: where to go on from (an expired continue token's replacement). */
    readonly continueToken?: string,
  ) {
    super(message);
    this.name = "StatusError";
  }

  toStatus(): Status {
    const s: Status = {
      kind: "Status",
      apiVersion: "v1",
      metadata: this.continueToken ? { continue: this.continueToken } : {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
    if (this.details) s.details = this.details;
    return s;
  }
}

/**
 * A failure kube-apiserver writes with http.Error rather than as a Status: plain text, a line. Its
 * filters do so where no API machinery is at hand (responsewriters.InternalError).
 */
export class PlainTextError extends StatusError {
  constructor(code: number, reason: string, text: string) {
    super(code, reason, text);
  }
}

export function qualifiedResource(gr: GroupResource): string {
  return gr.group ? `${gr.resource}.${gr.group}` : gr.resource;
}

export function notFound(gr: GroupResource, name: string): StatusError {
  // the core group is "", which kube-apiserver's details leave out
  return new StatusError(404, "NotFound", `${qualifiedResource(gr)} "${name}" not found`, {
    name,
    group: gr.group || undefined,
    kind: gr.resource,
  });
}

export function alreadyExists(gr: GroupResource, name: string): StatusError {
  return new StatusError(409, "AlreadyExists", `${qualifiedResource(gr)} "${name}" already exists`, {
    name,
    group: gr.group,
    kind: gr.resource,
  });
}

export function conflict(gr: GroupResource, name: string, why: string): StatusError {
  return new StatusError(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${qualifiedResource(gr)} "${name}": ${why}`,
    { name, group: gr.group, kind: gr.resource },
  );
}

export const OBJECT_MODIFIED =
  "the object has been modified; please apply your changes to the latest version and try again";

/** 422 Invalid: `details.kind` is the Kind, not the resource (as the real server does). */
export function invalid(group: string, kind: string, name: string, causes: StatusCause[]): StatusError {
  // errors.NewInvalid: `<Kind>.<group> "<name>" is invalid: <field>: <detail>`, a list in brackets when many.
  const list = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : (c.message ?? ""))).join(", ");
  const qualified = group ? `${kind}.${group}` : kind;
  const msg =
    causes.length > 1
      ? `${qualified} "${name}" is invalid: [${list}]`
      : `${qualified} "${name}" is invalid: ${list}`;
  return new StatusError(422, "Invalid", msg, { name, group, kind, causes });
}

export function badRequest(message: string): StatusError {
  return new StatusError(400, "BadRequest", message);
}

export function methodNotAllowed(message: string): StatusError {
  return new StatusError(405, "MethodNotAllowed", message);
}

export function notAcceptable(message: string): StatusError {
  return new StatusError(406, "NotAcceptable", message);
}

export function unsupportedMediaType(): StatusError {
  return new StatusError(
    415,
    "UnsupportedMediaType",
    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
  );
}

export function requestEntityTooLarge(message = "the request body is too large"): StatusError {
  return new StatusError(413, "RequestEntityTooLarge", message);
}

/**
 * 410 Expired for continue tokens and watches whose resource version is no longer kept;
 * `continueToken` lets the client go on with the rest of a list (see CONTINUE_EXPIRED).
 */
export function expired(message: string, continueToken?: string): StatusError {
  return new StatusError(410, "Expired", message, undefined, continueToken);
}

export function gone(message: string): StatusError {
  return new StatusError(410, "Gone", message);
}

export function resourceVersionTooLarge(requested: number, current: number): StatusError {
  // storage.NewTooLargeResourceVersionError, built on errors.NewTimeoutError (hence the prefix)
  return new StatusError(
    504,
    "Timeout",
    `Timeout: Too large resource version: ${requested}, current: ${current}`,
    {
      causes: [{ reason: "ResourceVersionTooLarge", message: "Too large resource version" }],
      retryAfterSeconds: 1,
    },
  );
}

export function unauthorized(message = "Unauthorized"): StatusError {
  return new StatusError(401, "Unauthorized", message);
}

export function forbidden(message: string, details?: StatusDetails): StatusError {
  return new StatusError(403, "Forbidden", message, details);
}

export function tooManyRequests(message: string, retryAfterSeconds = 1): StatusError {
  return new StatusError(429, "TooManyRequests", message, { retryAfterSeconds });
}

/** errors.NewTimeoutError, whose message starts with "Timeout: ". */
export function timeout(message: string, retryAfterSeconds = 0): StatusError {
  return new StatusError(
    504,
    "Timeout",
    `Timeout: ${message}`,
    retryAfterSeconds ? { retryAfterSeconds } : undefined,
  );
}

export function serviceUnavailable(message: string, retryAfterSeconds = 1): StatusError {
  return new StatusError(503, "ServiceUnavailable", message, { retryAfterSeconds });
}

export function internalError(message: string): StatusError {
  return new StatusError(500, "InternalError", `Internal error occurred: ${message}`, {
    causes: [{ message }],
  });
}

/** Anything thrown that is not a StatusError becomes a 500 (and should be logged by the caller). */
export function toStatusError(err: unknown): StatusError {
  if (err instanceof StatusError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return internalError(msg);
}
