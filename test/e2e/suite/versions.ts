import { describe, expect, it } from "vitest";
import type { KubectlVersion } from "../../support/kubectl.js";
import { KINDS, makeReport, uniqueName } from "../../support/reports.js";
import { nsArgs, testLabel } from "./crud.js";
import { header, k, kOk, yamlOf, type SuiteContext } from "./context.js";

/** kubectl 1.27/1.28 need OpenAPI v2 in protobuf to validate; with --validate=false they need none. */
const OLD: KubectlVersion[] = ["1.27", "1.28"];
const NEW: KubectlVersion[] = ["1.29", "1.33"];

export function versionTests(ctx: SuiteContext) {
  describe.concurrent("kubectl versions", () => {
    it.each(OLD)(
      "kubectl %s: create (--validate=false), get, get -o wide, delete for every kind",
      async (version) => {
        const ns = uniqueName(`v${version.replace(".", "")}`);
        const objs = KINDS.map((kd) => makeReport(kd, { name: ns, namespace: ns, labels: testLabel(ns) }));
        await kOk(ctx, ["create", "--validate=false", "-f", "-"], { version, stdin: yamlOf(...objs) });
        const gets = await Promise.all(
          KINDS.flatMap((kd) => [
            kOk(ctx, ["get", kd.short, ...nsArgs(kd, ns), "-l", `e2e.reports.test/id=${ns}`], { version }),
            kOk(ctx, ["get", kd.short, ...nsArgs(kd, ns), "-l", `e2e.reports.test/id=${ns}`, "-o", "wide"], {
              version,
            }),
          ]),
        );
        KINDS.forEach((kd, i) => {
          expect(header(gets[2 * i]), kd.kind).toEqual(kd.columns);
          expect(header(gets[2 * i + 1]), kd.kind).toEqual(kd.wideColumns);
        });
        const deleted = await Promise.all(
          KINDS.map((kd) => kOk(ctx, ["delete", kd.short, ns, ...nsArgs(kd, ns)], { version })),
        );
        KINDS.forEach((kd, i) => expect(deleted[i]).toContain(`${kd.singular}.${kd.group} "${ns}" deleted`));
      },
    );

    it.each(NEW)(
      "kubectl %s: create with server-side validation, get, label, patch, apply, delete",
      async (version) => {
        const ns = uniqueName(`v${version.replace(".", "")}`);
        const objs = KINDS.map((kd) => makeReport(kd, { name: ns, namespace: ns, labels: testLabel(ns) }));
        await kOk(ctx, ["create", "-f", "-"], { version, stdin: yamlOf(...objs) });
        const bogus = makeReport(KINDS[0], { name: `${ns}-bogus`, namespace: ns });
        bogus.bogus = true;
        const strict = await k(ctx, ["create", "-f", "-"], { version, stdin: yamlOf(bogus) });
        expect(strict.code).toBe(1);
        expect(strict.stderr).toContain('unknown field "bogus"');
        await Promise.all(
          KINDS.map(async (kd) => {
            const id = [kd.short, ns, ...nsArgs(kd, ns)];
            expect(header(await kOk(ctx, ["get", ...id], { version }))).toEqual(kd.columns);
            await kOk(ctx, ["label", ...id, "v=x"], { version });
            await kOk(ctx, ["patch", ...id, "--type=merge", "-p", '{"metadata":{"annotations":{"a":"b"}}}'], {
              version,
            });
            const applied = await kOk(ctx, ["apply", "-f", "-"], {
              version,
              stdin: yamlOf(makeReport(kd, { name: ns, namespace: ns, pass: 3 })),
            });
            expect(applied).toContain("configured");
            expect(await kOk(ctx, ["delete", ...id], { version })).toContain("deleted");
          }),
        );
      },
    );
  });
}
