import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, requestLogLevel, requestLogger, SLOW_REQUEST_MS } from "../../src/server/logger.js";

function capture(): { stream: Writable; text: () => string } {
  let out = "";
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out += chunk.toString();
      cb();
    },
  });
  return { stream, text: () => out };
}

const SECRETS = {
  password: "pw-top-1",
  token: "tok-top-2",
  db: { host: "db", password: "pw-nested-3" },
  cfg: { db: { password: "pw-deep-4" }, auth: { bearerToken: "tok-deep-5" } },
  headers: { authorization: "Bearer tok-header-6", cookie: "session=ck-7" },
  req: { headers: { authorization: "Bearer tok-header-8" } },
  env: { DB_PASSWORD: "pw-env-9" },
  tls: { privateKey: "-----BEGIN PRIVATE KEY----- key-10" },
};
const LEAKS = /pw-|tok-|ck-7|key-10/;

describe("logger", () => {
  it("redacts passwords, tokens and keys in JSON logs, keeping the rest", () => {
    const { stream, text } = capture();
    const log = createLogger("info", "json", stream);
    log.info({ ...SECRETS, user: "alice", verb: "create" }, "request");
    const line = text();
    expect(line).not.toMatch(LEAKS);
    const rec = JSON.parse(line) as Record<string, unknown>;
    expect(rec).toMatchObject({
      msg: "request",
      user: "alice",
      verb: "create",
      password: "[redacted]",
      db: { host: "db", password: "[redacted]" },
      cfg: { db: { password: "[redacted]" } },
      headers: { authorization: "[redacted]", cookie: "[redacted]" },
    });
  });

  it("redacts the same in text logs", () => {
    const { stream, text } = capture();
    const log = createLogger("info", "text", stream);
    log.warn({ ...SECRETS, user: "alice" }, "request");
    expect(text()).toMatch(/ warn request .*user=alice/);
    expect(text()).not.toMatch(LEAKS);
  });

  it("keeps a 500's cause readable under `error`", () => {
    const { stream, text } = capture();
    createLogger("info", "json", stream).error({ error: new Error("disk on fire") }, "request");
    const rec = JSON.parse(text()) as { error: { message: string; type: string } };
    expect(rec.error).toMatchObject({ message: "disk on fire", type: "Error" });
  });

  it("the request log redacts secrets in a 500's cause and keeps its own fields", () => {
    const { stream, text } = capture();
    const log = requestLogger(createLogger("info", "json", stream));
    const error = Object.assign(new Error("connect failed"), {
      password: "pw-err-11",
      config: { token: "tok-err-12" },
      request: { headers: { cookie: "session=ck-7" } },
    });
    log.error({ verb: "create", user: "alice", code: 500, error }, "request");
    expect(text()).not.toMatch(LEAKS);
    const rec = JSON.parse(text()) as Record<string, unknown>;
    expect(rec).toMatchObject({
      verb: "create",
      user: "alice",
      code: 500,
      error: { message: "connect failed", password: "[redacted]", config: { token: "[redacted]" } },
    });
  });

  it("logs requests at debug, slow ones (not watches) at info and 5xx at error", () => {
    expect(requestLogLevel(201, "create", 3)).toBe("debug");
    expect(requestLogLevel(200, "list", 40)).toBe("debug");
    expect(requestLogLevel(409, "update", 2)).toBe("debug");
    expect(requestLogLevel(200, "update", SLOW_REQUEST_MS)).toBe("info");
    expect(requestLogLevel(200, "list", SLOW_REQUEST_MS * 5)).toBe("info");
    expect(requestLogLevel(200, "watch", SLOW_REQUEST_MS * 60)).toBe("debug");
    expect(requestLogLevel(503, "get", 1)).toBe("error");
    expect(requestLogLevel(500, "watch", SLOW_REQUEST_MS * 60)).toBe("error");
  });
});
