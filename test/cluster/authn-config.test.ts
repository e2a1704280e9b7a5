import { describe, it, expect } from "vitest";
import { mergeSettings, settingsFromConfigMap, settingsFromFlags } from "../../src/cluster/authn-config.js";
import {
  stripIdentityHeaders,
  userFromHeaders,
  DEFAULT_HEADER_NAMES,
} from "../../src/cluster/authn-requestheader.js";

const cm = {
  "client-ca-file": "CLIENT-CA",
  "requestheader-client-ca-file": "PROXY-CA",
  "requestheader-allowed-names": '["front-proxy-client","aggregator"]',
  "requestheader-username-headers": '["X-Remote-User"]',
  "requestheader-group-headers": '["X-Remote-Group"]',
  "requestheader-extra-headers-prefix": '["X-Remote-Extra-"]',
  "requestheader-uid-headers": '["X-Remote-Uid"]',
};

describe("where authentication trust comes from", () => {
  it("reads the extension-apiserver-authentication ConfigMap", () => {
    expect(settingsFromConfigMap(cm)).toEqual({
      clientCaPem: "CLIENT-CA",
      requestHeader: {
        caPem: "PROXY-CA",
        allowedNames: ["front-proxy-client", "aggregator"],
        usernameHeaders: ["X-Remote-User"],
        groupHeaders: ["X-Remote-Group"],
        extraHeaderPrefixes: ["X-Remote-Extra-"],
        uidHeaders: ["X-Remote-Uid"],
      },
    });
    expect(settingsFromConfigMap({ "client-ca-file": "CLIENT-CA" })).toEqual({ clientCaPem: "CLIENT-CA" });
    expect(settingsFromConfigMap(undefined)).toEqual({});
  });

  it("lets each flag-given part win and fills the rest from the ConfigMap", () => {
    const files: Record<string, string> = {
      "/ca/client.crt": "FLAG-CLIENT-CA",
      "/ca/proxy.crt": "FLAG-PROXY-CA",
    };
    const fromFlags = settingsFromFlags({ clientCaFile: "/ca/client.crt" }, (p) => files[p]);
    const merged = mergeSettings(fromFlags, settingsFromConfigMap(cm));
    expect(merged.clientCaPem).toBe("FLAG-CLIENT-CA");
    expect(merged.requestHeader?.caPem).toBe("PROXY-CA");

    const proxyFlags = settingsFromFlags({ requestheaderClientCaFile: "/ca/proxy.crt" }, (p) => files[p]);
    expect(mergeSettings(proxyFlags, settingsFromConfigMap(cm)).requestHeader).toEqual({
      caPem: "FLAG-PROXY-CA",
      allowedNames: [],
      usernameHeaders: ["X-Remote-User"],
      groupHeaders: ["X-Remote-Group"],
      extraHeaderPrefixes: ["X-Remote-Extra-"],
      uidHeaders: [],
    });
  });
});

describe("identity headers", () => {
  const names = {
    ...DEFAULT_HEADER_NAMES,
    usernameHeaders: ["X-Remote-User", "X-Other-User"],
    uidHeaders: ["X-Remote-Uid"],
  };

  it("takes the first username header that is set, all groups, and every extra", () => {
    expect(
      userFromHeaders(
        {
          "x-other-user": "second",
          "x-remote-group": "a, b",
          "x-remote-extra-reason": "one, two",
          "x-remote-extra-": "ignored: no key",
          "x-remote-extra-a%20b": "spaced",
        },
        names,
      ),
    ).toEqual({ name: "second", groups: ["a", "b"], extra: { reason: ["one", "two"], "a b": ["spaced"] } });
    expect(userFromHeaders({ "x-remote-group": "a" }, names)).toBeUndefined();
    // keys a plain object inherits are keys like any other
    const odd = userFromHeaders(
      { "x-other-user": "u", "x-remote-extra-constructor": "c", "x-remote-extra-__proto__": "p" },
      names,
    );
    expect(odd?.extra?.constructor).toEqual(["c"]);
    expect(Object.getOwnPropertyDescriptor(odd?.extra, "__proto__")?.value).toEqual(["p"]);
  });

  it("strips configured and standard identity headers, leaving the rest", () => {
    const h = {
      "x-remote-user": "u",
      "x-other-user": "u",
      "x-remote-group": "g",
      "x-remote-uid": "1",
      "x-remote-extra-k": "v",
      "x-request-id": "keep",
    };
    stripIdentityHeaders(h, { ...DEFAULT_HEADER_NAMES, usernameHeaders: ["X-Other-User"] });
    expect(h).toEqual({ "x-request-id": "keep" });
  });
});
