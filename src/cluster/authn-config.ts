import { readFileSync } from "node:fs";
import { DEFAULT_HEADER_NAMES, type RequestHeaderSettings } from "./authn-requestheader.js";

/**
 * Where authentication gets its trust from: flags (files) first, as k8s.io/apiserver's delegating
 * authentication does, and ConfigMap kube-system/extension-apiserver-authentication for what the flags
 * leave out: the client CA when --client-ca-file is empty, and all requestheader settings when
 * --requestheader-client-ca-file is empty.
 */

export interface AuthnFlags {
  clientCaFile?: string;
  requestheaderClientCaFile?: string;
  requestheaderAllowedNames?: string[];
  requestheaderUsernameHeaders?: string[];
  requestheaderGroupHeaders?: string[];
  requestheaderExtraHeadersPrefix?: string[];
  requestheaderUidHeaders?: string[];
}

export interface AuthnSettings {
  /** PEM bundle of the client CA, when client certificates are accepted. */
  clientCaPem?: string;
  requestHeader?: RequestHeaderSettings;
}

export const AUTHN_CONFIGMAP = { namespace: "kube-system", name: "extension-apiserver-authentication" };

/** The ConfigMap keeps lists as JSON arrays in strings (`["front-proxy-client"]`). */
function jsonList(v: string | undefined): string[] | undefined {
  if (v === undefined || v.trim() === "") return undefined;
  try {
    const parsed: unknown = JSON.parse(v);
    if (Array.isArray(parsed)) return parsed.filter((s): s is string => typeof s === "string");
  } catch {
    // fall through: a plain comma-separated value
  }
  return v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Settings from the ConfigMap's data. Pure. */
export function settingsFromConfigMap(data: Record<string, string> | undefined): AuthnSettings {
  const d = data ?? {};
  const out: AuthnSettings = {};
  if (d["client-ca-file"]?.trim()) out.clientCaPem = d["client-ca-file"];
  const ca = d["requestheader-client-ca-file"];
  if (ca?.trim()) {
    out.requestHeader = {
      caPem: ca,
      allowedNames: jsonList(d["requestheader-allowed-names"]) ?? [],
      usernameHeaders: jsonList(d["requestheader-username-headers"]) ?? DEFAULT_HEADER_NAMES.usernameHeaders,
      groupHeaders: jsonList(d["requestheader-group-headers"]) ?? DEFAULT_HEADER_NAMES.groupHeaders,
      extraHeaderPrefixes:
        jsonList(d["requestheader-extra-headers-prefix"]) ?? DEFAULT_HEADER_NAMES.extraHeaderPrefixes,
      // Only honoured when the kube-apiserver says it sends (and so strips) them.
      uidHeaders: jsonList(d["requestheader-uid-headers"]) ?? [],
    };
  }
  return out;
}

/** Settings from flags, reading the CA files now (called again on every reload). */
export function settingsFromFlags(
  flags: AuthnFlags,
  read: (path: string) => string = (p) => readFileSync(p, "utf8"),
): AuthnSettings {
  const out: AuthnSettings = {};
  if (flags.clientCaFile) out.clientCaPem = read(flags.clientCaFile);
  if (flags.requestheaderClientCaFile) {
    out.requestHeader = {
      caPem: read(flags.requestheaderClientCaFile),
      allowedNames: flags.requestheaderAllowedNames ?? [],
      usernameHeaders: nonEmpty(flags.requestheaderUsernameHeaders) ?? DEFAULT_HEADER_NAMES.usernameHeaders,
      groupHeaders: nonEmpty(flags.requestheaderGroupHeaders) ?? DEFAULT_HEADER_NAMES.groupHeaders,
      extraHeaderPrefixes:
        nonEmpty(flags.requestheaderExtraHeadersPrefix) ?? DEFAULT_HEADER_NAMES.extraHeaderPrefixes,
      uidHeaders: flags.requestheaderUidHeaders ?? [],
    };
  }
  return out;
}

function nonEmpty(v: string[] | undefined): string[] | undefined {
  return v && v.length > 0 ? v : undefined;
}

/** Flags win per part; the ConfigMap fills the rest. Pure. */
export function mergeSettings(flags: AuthnSettings, configMap: AuthnSettings): AuthnSettings {
  const out: AuthnSettings = {};
  const clientCa = flags.clientCaPem ?? configMap.clientCaPem;
  if (clientCa) out.clientCaPem = clientCa;
  const rh = flags.requestHeader ?? configMap.requestHeader;
  if (rh) out.requestHeader = rh;
  return out;
}

export function sameSettings(a: AuthnSettings, b: AuthnSettings): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
