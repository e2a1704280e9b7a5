/** The slice of a pino logger the cluster code uses, so callers pass theirs and tests pass none. */
export interface ClusterLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLog: ClusterLog = {
  info: () => {},
  warn: () => {},
  error: () => {},
};

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
