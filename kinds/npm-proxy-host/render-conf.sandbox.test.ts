/**
 * Every golden flag combination, rendered for the NPM stand-in's own nginx (Debian 12: 1.22), must pass
 * `nginx -t` there with NPM's include files; and the directive NPM 2.15 writes for newer nginx
 * (`http2 on;`) must be refused by it, which is why the renderer reads the version.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CommandError } from "../../core/errors.js";
import { ExecaRunner } from "../../core/runner.js";
import { sandbox } from "../../sandbox/sandbox-env.js";
import { GOLDEN_CASES, host, LE, NEW, withCert } from "./golden-cases.js";
import { parseNginxVersion, renderProxyHostConf } from "./render-conf.js";
import type { ProxyHostModel } from "./row.js";

const sb = sandbox({ parts: ["docker", "npm"] });
const data = sb.npmData!;
const container = sb.npmContainer!;
const runner = new ExecaRunner({ defaultTimeoutMs: 30_000 });
let version = "";

async function nginxTest(id: number, conf: string): Promise<void> {
  const file = join(data, "nginx/proxy_host", `${id}.conf`);
  writeFileSync(file, conf);
  try {
    await runner.run("docker", ["exec", container, "nginx", "-t"]);
  } finally {
    rmSync(file, { force: true });
  }
}

beforeAll(async () => {
  const r = await runner.run("docker", ["exec", container, "nginx", "-v"]);
  version = parseNginxVersion(r.stderr)!;
  // Certificate id 3 as a custom certificate (/data/custom_ssl) and as a Let's Encrypt one (/etc/letsencrypt).
  const tmp = mkdtempSync(join(sb.dir, "certs-"));
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=api.flow.example.org",
    "-keyout", join(tmp, "privkey.pem"), "-out", join(tmp, "fullchain.pem")], { stdio: "ignore" });
  const custom = join(data, "custom_ssl/npm-3");
  mkdirSync(custom, { recursive: true });
  for (const f of ["privkey.pem", "fullchain.pem"]) writeFileSync(join(custom, f), execFileSync("cat", [join(tmp, f)]));
  await runner.run("docker", ["exec", container, "mkdir", "-p", "/etc/letsencrypt/live/npm-3"], { mutates: true });
  for (const f of ["privkey.pem", "fullchain.pem"]) {
    await runner.run("docker", ["cp", join(tmp, f), `${container}:/etc/letsencrypt/live/npm-3/${f}`], { mutates: true });
  }
});

afterAll(() => {
  rmSync(join(data, "custom_ssl"), { recursive: true, force: true });
});

describe("rendered confs in NPM's nginx", () => {
  it("reads an nginx older than 1.25.1 in the stand-in (the case the renderer must handle)", () => {
    expect(version).toMatch(/^1\.2[0-4]\./);
  });

  GOLDEN_CASES.forEach(([name, model, ctx], i) => {
    it(`${name} passes nginx -t`, async () => {
      const m: ProxyHostModel = { ...model, id: 900 + i, domains: model.domains.map((d) => `${i}.${d}`) };
      await nginxTest(m.id, renderProxyHostConf(m, { ...ctx, nginxVersion: version })!);
    });
  });

  it("NPM 2.15's `http2 on;` is refused by this nginx", async () => {
    const conf = renderProxyHostConf(host({ id: 990, ...withCert, http2: true }), { ...NEW, certificate: LE })!;
    const err = await nginxTest(990, conf).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect((err as CommandError).stderr).toMatch(/unknown directive "http2"/);
  });
});
