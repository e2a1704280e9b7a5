import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { parseConfig } from "../../src/config.js";
import { loadResources } from "../../src/resources/index.js";
import { MALLOC_ENV } from "../../scripts/malloc-env.mjs";

// What an operator gets from `kubectl apply -k deploy/overlays/<name>`, checked object by object.

const run = promisify(execFile);
const ROOT = new URL("../../", import.meta.url);
const OVERLAYS = ["memory", "postgres", "etcd", "ha"] as const;
type Overlay = (typeof OVERLAYS)[number];

interface Meta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
}
interface Rendered {
  apiVersion: string;
  kind: string;
  metadata: Meta;
  [key: string]: unknown;
}
interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
  verbs: string[];
}
interface Role extends Rendered {
  rules: PolicyRule[];
}
interface Binding extends Rendered {
  roleRef: { apiGroup: string; kind: string; name: string };
  subjects: { kind: string; name: string; namespace?: string }[];
}
interface Probe {
  httpGet?: { path: string; port: string | number; scheme?: string };
}
interface Container {
  name: string;
  image: string;
  args: string[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports: { name: string; containerPort: number }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    runAsNonRoot?: boolean;
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
    seccompProfile?: { type: string };
  };
  volumeMounts: { name: string; mountPath: string }[];
}
interface Volume {
  name: string;
  emptyDir?: Record<string, unknown>;
  secret?: { secretName: string };
}
interface PodSpec {
  serviceAccountName: string;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type: string } };
  containers: Container[];
  volumes: Volume[];
  affinity?: {
    podAntiAffinity?: {
      requiredDuringSchedulingIgnoredDuringExecution?: { topologyKey: string }[];
      preferredDuringSchedulingIgnoredDuringExecution?: { podAffinityTerm: { topologyKey: string } }[];
    };
  };
}
interface Deployment extends Rendered {
  spec: {
    replicas: number;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: Meta; spec: PodSpec };
  };
}
interface Service extends Rendered {
  spec: { selector: Record<string, string>; ports: { port: number; targetPort: string | number }[] };
}
interface ConfigMap extends Rendered {
  data: Record<string, string>;
}
interface Pdb extends Rendered {
  spec: { minAvailable?: number | string; maxUnavailable?: number | string };
}

async function render(overlay: string): Promise<Rendered[]> {
  // KUBECONFIG points nowhere: rendering must never need (or touch) a cluster.
  const { stdout } = await run("kubectl", ["kustomize", `deploy/overlays/${overlay}`], {
    cwd: ROOT,
    env: { ...process.env, KUBECONFIG: "/dev/null" },
    maxBuffer: 16 * 1024 * 1024,
  });
  return parseAllDocuments(stdout).map((d) => {
    if (d.errors.length > 0) throw new Error(`${overlay}: ${d.errors[0].message}`);
    return d.toJS() as Rendered;
  });
}

const rendered = new Map<Overlay, Rendered[]>();
beforeAll(async () => {
  for (const o of OVERLAYS) rendered.set(o, await render(o));
});

function objects(overlay: Overlay): Rendered[] {
  const objs = rendered.get(overlay);
  if (!objs) throw new Error(`${overlay} not rendered`);
  return objs;
}
function only<T extends Rendered>(overlay: Overlay, kind: string, name?: string): T {
  const found = objects(overlay).filter(
    (o) => o.kind === kind && (name === undefined || o.metadata.name === name),
  );
  expect(found, `${overlay}: exactly one ${kind} ${name ?? ""}`).toHaveLength(1);
  return found[0] as T;
}
function all<T extends Rendered>(overlay: Overlay, kind: string): T[] {
  return objects(overlay).filter((o) => o.kind === kind) as T[];
}
function server(overlay: Overlay): { deploy: Deployment; pod: PodSpec; c: Container } {
  const deploy = only<Deployment>(overlay, "Deployment", "reports-server");
  const pod = deploy.spec.template.spec;
  expect(pod.containers).toHaveLength(1);
  return { deploy, pod, c: pod.containers[0] };
}
function flag(c: Container, name: string): string | undefined {
  const values = c.args.filter((a) => a.startsWith(`--${name}=`)).map((a) => a.slice(name.length + 3));
  expect(values.length, `--${name} given at most once`).toBeLessThanOrEqual(1);
  return values[0];
}
/** True when some rule grants every verb on group/resource (optionally for one name). */
function grants(
  rules: PolicyRule[],
  group: string,
  resource: string,
  verbs: string[],
  name?: string,
): boolean {
  return verbs.every((verb) =>
    rules.some(
      (r) =>
        (r.apiGroups ?? []).some((g) => g === group || g === "*") &&
        (r.resources ?? []).some((x) => x === resource || x === "*") &&
        (r.verbs.includes(verb) || r.verbs.includes("*")) &&
        (r.resourceNames === undefined || (name !== undefined && r.resourceNames.includes(name))),
    ),
  );
}
/** The rules a ServiceAccount holds through the bindings in the render (built-in roles excluded). */
function rulesOf(overlay: Overlay, sa: string, ns: string, bindingNamespace?: string): PolicyRule[] {
  const bindings = [...all<Binding>(overlay, "ClusterRoleBinding"), ...all<Binding>(overlay, "RoleBinding")];
  const roles = [...all<Role>(overlay, "ClusterRole"), ...all<Role>(overlay, "Role")];
  return bindings
    .filter((b) => b.kind === "ClusterRoleBinding" || b.metadata.namespace === bindingNamespace)
    .filter((b) => b.subjects.some((s) => s.kind === "ServiceAccount" && s.name === sa && s.namespace === ns))
    .flatMap((b) => roles.filter((r) => r.kind === b.roleRef.kind && r.metadata.name === b.roleRef.name))
    .flatMap((r) => r.rules);
}

const KINDS = loadResources();
const SIX = [
  "policyreports",
  "clusterpolicyreports",
  "ephemeralreports",
  "clusterephemeralreports",
  "reports",
  "clusterreports",
];
const READ = ["get", "list", "watch"];
const WRITE = ["create", "update", "patch", "delete", "deletecollection"];
const BACKEND: Record<Overlay, string> = {
  memory: "memory",
  postgres: "postgres",
  etcd: "etcd",
  ha: "postgres",
};

describe.each(OVERLAYS)("deploy/overlays/%s", (overlay) => {
  it("renders every object an installation needs, and no static APIService", () => {
    const kinds = new Set(objects(overlay).map((o) => o.kind));
    for (const k of [
      "Namespace",
      "ServiceAccount",
      "ClusterRole",
      "ClusterRoleBinding",
      "Role",
      "RoleBinding",
      "Deployment",
      "Service",
      "PodDisruptionBudget",
    ]) {
      expect(kinds, k).toContain(k);
    }
    // The server registers the APIServices itself, with its serving CA in caBundle.
    expect(kinds).not.toContain("APIService");
    const ns = only<Rendered>(overlay, "Namespace");
    expect(ns.metadata.name).toBe("reports-server");
    expect(ns.metadata.labels?.["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    const clusterScoped = ["Namespace", "ClusterRole", "ClusterRoleBinding"];
    for (const o of objects(overlay).filter((x) => !clusterScoped.includes(x.kind))) {
      const expected = (o as Binding).roleRef?.name === "extension-apiserver-authentication-reader";
      expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(
        expected ? "kube-system" : "reports-server",
      );
    }
  });

  it("runs the chosen storage backend", () => {
    const { c } = server(overlay);
    expect(flag(c, "storage-backend")).toBe(BACKEND[overlay]);
    if (BACKEND[overlay] === "postgres") {
      // Where the database is comes from a ConfigMap, so an operator's overlay can merge into it.
      const refs = (c.envFrom ?? []).map((e) => e.configMapRef?.name);
      const cm = all<ConfigMap>(overlay, "ConfigMap").filter((x) => refs.includes(x.metadata.name));
      expect(cm).toHaveLength(1);
      for (const k of ["DB_HOST", "DB_PORT", "DB_DATABASE", "DB_USER", "DB_SSLMODE"])
        expect(cm[0].data[k], k).toBeTruthy();
      expect(cm[0].data.DB_SSLMODE).not.toBe("disable");
      expect(c.args.some((a) => a.startsWith("--etcd-"))).toBe(false);
    }
    if (overlay === "etcd") {
      const endpoints = flag(c, "etcd-endpoints")?.split(",") ?? [];
      expect(endpoints.length).toBeGreaterThan(0);
      for (const e of endpoints) expect(new URL(e).protocol).toBe("https:");
      expect(c.args.some((a) => a.startsWith("--db-"))).toBe(false);
    }
    if (overlay === "memory") {
      // Replicas on memory would each hold different reports.
      expect(server(overlay).deploy.spec.replicas).toBe(1);
    }
  });

  it("gives the server only flags and environment it accepts, with the intended values", () => {
    const { c } = server(overlay);
    // What the kubelet hands the process: literal env, the downward API, envFrom ConfigMaps,
    // then $(VAR) expanded in args. The password file is stood in for by a local one.
    const env: Record<string, string> = {};
    for (const from of c.envFrom ?? []) {
      const cm = only<ConfigMap>(overlay, "ConfigMap", from.configMapRef?.name);
      Object.assign(env, cm.data);
    }
    for (const e of c.env ?? []) {
      const fieldRef = (e.valueFrom as { fieldRef?: { fieldPath: string } } | undefined)?.fieldRef;
      env[e.name] = e.value ?? (fieldRef?.fieldPath === "metadata.namespace" ? "reports-server" : "");
    }
    const dir = mkdtempSync(join(tmpdir(), "deploy-test-"));
    const passwordFile = join(dir, "password");
    writeFileSync(passwordFile, "s3cret\n");
    const args = c.args
      .map((a) => a.replace(/\$\((\w+)\)/g, (_, name: string) => env[name] ?? ""))
      .map((a) => (a.startsWith("--db-password-file=") ? `--db-password-file=${passwordFile}` : a));

    let cfg: ReturnType<typeof parseConfig>;
    try {
      cfg = parseConfig(args, env);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(cfg.storageBackend).toBe(BACKEND[overlay]);
    expect(cfg.securePort).toBe(4443);
    expect(cfg.serviceName).toBe("reports-server");
    expect(cfg.serviceNamespace).toBe("reports-server");
    expect(cfg.servicePort).toBe(443);
    expect(cfg.shutdownDelayMs).toBeGreaterThan(0);
    expect(cfg.logFormat).toBe("json");
    // without a mounted certificate, the replicas share one through the Secret the Role names
    if (!cfg.tlsCertFile) expect(cfg.servingCertSecret).toBe("reports-server-self-signed-cert");
    if (cfg.storageBackend === "postgres") {
      expect(cfg.db.host).toBe("reports-server-postgresql.reports-server.svc");
      expect(cfg.db.sslmode).toBe("require");
      expect(cfg.db.password).toBe("s3cret");
    }
    if (cfg.storageBackend === "etcd") {
      expect(cfg.etcd.endpoints.length).toBeGreaterThan(1);
      expect(cfg.etcd.certFile).toBe(flag(c, "etcd-certfile"));
    }
    if (overlay === "ha") expect(cfg.tlsCertFile).toBe(flag(c, "tls-cert-file"));
  });

  it("serves HTTPS on the port the probes and the Service use, with health probes", () => {
    const { deploy, pod, c } = server(overlay);
    const port = c.ports.find((p) => p.name === "https");
    expect(port?.containerPort).toBe(Number(flag(c, "secure-port")));
    expect(c.livenessProbe?.httpGet).toMatchObject({ path: "/livez", port: "https", scheme: "HTTPS" });
    // not the store's check: a database failover must not take the APIServices (and discovery) down
    expect(c.readinessProbe?.httpGet).toMatchObject({
      path: "/readyz?exclude=storage",
      port: "https",
      scheme: "HTTPS",
    });
    expect(c.startupProbe?.httpGet).toMatchObject({ path: "/livez", scheme: "HTTPS" });
    expect(c.resources?.requests?.cpu).toBeTruthy();
    expect(c.resources?.limits?.memory).toBeTruthy();

    const svc = only<Service>(overlay, "Service", flag(c, "service-name"));
    expect(svc.spec.ports).toEqual([expect.objectContaining({ port: 443, targetPort: "https" })]);
    expect(Number(flag(c, "service-port"))).toBe(443);
    expect(deploy.spec.template.metadata.labels).toMatchObject(svc.spec.selector);
    expect(deploy.spec.template.metadata.labels).toMatchObject(deploy.spec.selector.matchLabels);
    // The APIServices must name the namespace the pod actually runs in.
    expect(flag(c, "service-namespace")).toBe("$(POD_NAMESPACE)");
    expect(c.env?.find((e) => e.name === "POD_NAMESPACE")?.valueFrom).toEqual({
      fieldRef: { fieldPath: "metadata.namespace" },
    });
    expect(pod.serviceAccountName).toBe("reports-server");
  });

  it("runs non-root on a read-only root filesystem with no capabilities", () => {
    const { pod, c } = server(overlay);
    expect(pod.securityContext?.runAsNonRoot).toBe(true);
    expect(pod.securityContext?.runAsUser).toBe(65532);
    expect(pod.securityContext?.seccompProfile?.type).toBe("RuntimeDefault");
    expect(c.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(c.securityContext?.capabilities?.add).toBeUndefined();
    // A read-only root still needs somewhere writable for the self-signed serving certificate.
    const certDir = flag(c, "cert-dir");
    const mount = c.volumeMounts.find((m) => m.mountPath === certDir);
    expect(pod.volumes.find((v) => v.name === mount?.name)?.emptyDir).toBeDefined();
  });

  it("mounts every file a flag names and every volume a mount names", () => {
    const { pod, c } = server(overlay);
    for (const m of c.volumeMounts)
      expect(
        pod.volumes.map((v) => v.name),
        m.name,
      ).toContain(m.name);
    const fileFlags = c.args.filter((a) => /^--[a-z-]*(file|cafile|certfile|keyfile|sslrootcert)=/.test(a));
    for (const a of fileFlags) {
      const path = a.slice(a.indexOf("=") + 1);
      expect(
        c.volumeMounts.some((m) => path.startsWith(`${m.mountPath}/`)),
        `${a} lies in a mounted volume`,
      ).toBe(true);
    }
  });

  it("delegates authentication and authorization to the kube-apiserver", () => {
    const delegator = all<Binding>(overlay, "ClusterRoleBinding").filter(
      (b) => b.roleRef.kind === "ClusterRole" && b.roleRef.name === "system:auth-delegator",
    );
    expect(delegator).toHaveLength(1);
    expect(delegator[0].subjects).toContainEqual({
      kind: "ServiceAccount",
      name: "reports-server",
      namespace: "reports-server",
    });
    const reader = all<Binding>(overlay, "RoleBinding").filter(
      (b) => b.roleRef.kind === "Role" && b.roleRef.name === "extension-apiserver-authentication-reader",
    );
    expect(reader).toHaveLength(1);
    expect(reader[0].metadata.namespace).toBe("kube-system");
    expect(reader[0].subjects).toContainEqual({
      kind: "ServiceAccount",
      name: "reports-server",
      namespace: "reports-server",
    });
  });

  it("lets the server manage its APIServices, elect a leader, follow namespaces and migrate every kind", () => {
    const cluster = rulesOf(overlay, "reports-server", "reports-server");
    const inNamespace = rulesOf(overlay, "reports-server", "reports-server", "reports-server");
    for (const g of new Set(KINDS.map((k) => k.group))) {
      const versions = new Set(KINDS.filter((k) => k.group === g).map((k) => k.version));
      for (const v of versions) {
        const name = `${v}.${g}`;
        expect(grants(cluster, "apiregistration.k8s.io", "apiservices", ["get", "update"], name), name).toBe(
          true,
        );
      }
    }
    expect(grants(cluster, "apiregistration.k8s.io", "apiservices", ["list", "watch", "create"])).toBe(true);
    // Handing the groups back is the operator's explicit step, never the server's.
    expect(
      grants(cluster, "apiregistration.k8s.io", "apiservices", ["delete"], "v1alpha2.wgpolicyk8s.io"),
    ).toBe(false);
    // nothing the server does needs the CRDs themselves
    expect(grants(cluster, "apiextensions.k8s.io", "customresourcedefinitions", ["get"])).toBe(false);
    // NamespaceLifecycle admission follows the namespaces (and looks one up when it is not cached)
    expect(grants(cluster, "", "namespaces", ["get", "list", "watch"])).toBe(true);
    for (const k of KINDS) expect(grants(cluster, k.group, k.plural, ["get", "list"]), k.plural).toBe(true);
    // the one Lease the replicas elect with: created, then read and renewed by name only
    expect(grants(inNamespace, "coordination.k8s.io", "leases", ["create"])).toBe(true);
    expect(grants(inNamespace, "coordination.k8s.io", "leases", ["get", "update"], "reports-server")).toBe(
      true,
    );
    expect(grants(inNamespace, "coordination.k8s.io", "leases", ["get"], "someone-elses")).toBe(false);
    // the Secret the replicas share their self-signed serving certificate through, and no other;
    // none at all where they mount their certificate
    const secret = "reports-server-self-signed-cert";
    const shares = overlay !== "ha";
    expect(grants(inNamespace, "", "secrets", ["create"])).toBe(shares);
    expect(grants(inNamespace, "", "secrets", ["get", "update"], secret)).toBe(shares);
    expect(grants(inNamespace, "", "secrets", ["get"], "reports-server-db")).toBe(false);
    // Leases are granted in the server's namespace only.
    expect(grants(cluster, "coordination.k8s.io", "leases", ["create"])).toBe(false);
  });

  it("folds every report kind into the built-in view and admin roles, as Kyverno's chart does", () => {
    const aggregated = (label: string): PolicyRule[] =>
      all<Role>(overlay, "ClusterRole")
        .filter((r) => r.metadata.labels?.[`rbac.authorization.k8s.io/aggregate-to-${label}`] === "true")
        .flatMap((r) => r.rules);
    // Guards against passing vacuously; a seventh kind must simply be covered like these.
    expect(KINDS.map((k) => k.plural)).toEqual(expect.arrayContaining(SIX));
    for (const k of KINDS) {
      expect(grants(aggregated("view"), k.group, k.plural, READ), `view ${k.plural}`).toBe(true);
      expect(
        grants(aggregated("view"), k.group, k.plural, ["create"]),
        `view may not write ${k.plural}`,
      ).toBe(false);
      // as Kyverno's chart: editors get nothing, admins all but deletecollection
      expect(grants(aggregated("edit"), k.group, k.plural, ["get"]), `edit ${k.plural}`).toBe(false);
      const adminWrites = WRITE.filter((v) => v !== "deletecollection");
      expect(
        grants(aggregated("admin"), k.group, k.plural, [...READ, ...adminWrites]),
        `admin ${k.plural}`,
      ).toBe(true);
      expect(grants(aggregated("admin"), k.group, k.plural, ["deletecollection"])).toBe(false);
    }
  });

  it("keeps passwords out of the manifests", () => {
    const { c } = server(overlay);
    // A flag may name the file holding a password; no flag may carry one.
    const passwordFlags = c.args.filter((a) => /password/i.test(a.split("=")[0]));
    expect(passwordFlags.filter((a) => !a.startsWith("--db-password-file="))).toEqual([]);
    for (const e of c.env ?? []) {
      if (/PASSWORD|TOKEN|SECRET/.test(e.name)) expect(e.value, e.name).toBeUndefined();
    }
    for (const cm of all<ConfigMap>(overlay, "ConfigMap")) {
      expect(Object.keys(cm.data).filter((k) => /PASSWORD|TOKEN|SECRET/.test(k))).toEqual([]);
    }
    expect(all(overlay, "Secret")).toEqual([]);
  });
});

describe("storage credentials", () => {
  it("postgres reads the password from Secret reports-server-db through --db-password-file", () => {
    for (const overlay of ["postgres", "ha"] as const) {
      const { pod, c } = server(overlay);
      const file = flag(c, "db-password-file") ?? "";
      const mount = c.volumeMounts.find((m) => file.startsWith(`${m.mountPath}/`));
      const volume = pod.volumes.find((v) => v.name === mount?.name);
      expect(volume?.secret?.secretName, overlay).toBe("reports-server-db");
    }
  });

  it("etcd authenticates with the client certificate from Secret reports-server-etcd-client", () => {
    const { pod, c } = server("etcd");
    for (const f of ["etcd-cafile", "etcd-certfile", "etcd-keyfile"]) {
      const file = flag(c, f) ?? "";
      const mount = c.volumeMounts.find((m) => file.startsWith(`${m.mountPath}/`));
      expect(pod.volumes.find((v) => v.name === mount?.name)?.secret?.secretName, f).toBe(
        "reports-server-etcd-client",
      );
    }
  });
});

describe("high availability", () => {
  it("runs three replicas kept apart, with at most one down at a time", () => {
    const { deploy, pod } = server("ha");
    expect(deploy.spec.replicas).toBe(3);
    const anti = pod.affinity?.podAntiAffinity;
    const keys = [
      ...(anti?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => t.topologyKey),
      ...(anti?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map(
        (t) => t.podAffinityTerm.topologyKey,
      ),
    ];
    expect(keys).toContain("kubernetes.io/hostname");
    const pdb = only<Pdb>("ha", "PodDisruptionBudget");
    expect(pdb.spec.minAvailable).toBe(2);
    expect(pdb.spec.maxUnavailable).toBeUndefined();
  });

  it("shares one serving certificate so the single caBundle fits every replica", () => {
    const { pod, c } = server("ha");
    for (const f of ["tls-cert-file", "tls-private-key-file"]) {
      const file = flag(c, f) ?? "";
      const mount = c.volumeMounts.find((m) => file.startsWith(`${m.mountPath}/`));
      expect(pod.volumes.find((v) => v.name === mount?.name)?.secret?.secretName, f).toBe(
        "reports-server-serving-cert",
      );
    }
  });

  it("single-replica overlays never block a node drain", () => {
    for (const overlay of ["memory", "postgres", "etcd"] as const) {
      expect(server(overlay).deploy.spec.replicas).toBe(1);
      expect(only<Pdb>(overlay, "PodDisruptionBudget").spec.maxUnavailable, overlay).toBe(1);
    }
  });
});

describe("Dockerfile", () => {
  const dockerfile = readFileSync(new URL("Dockerfile", ROOT), "utf8");
  const runtime = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));

  it("runs the built server as the non-root user the Deployment expects", () => {
    expect(runtime).toMatch(/^USER 65532(:65532)?$/m);
    expect(runtime).toMatch(/^ENTRYPOINT \[.*"dist\/main\.js"\]$/m);
  });

  it("runs the server with the malloc settings that npm start and the bench use", () => {
    const env = [...runtime.matchAll(/^ENV (.*)$/gm)].flatMap((m) => m[1].split(/\s+/));
    for (const [name, value] of Object.entries(MALLOC_ENV)) expect(env).toContain(`${name}=${value}`);
  });

  it("ships the CRDs the server loads at run time and only production dependencies", () => {
    expect(runtime).toMatch(/^COPY .*resources .*resources/m);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(runtime).not.toMatch(/^RUN npm ci(?! --omit=dev)/m);
  });
});
