/**
 * The edge probe with NPM containers other than the sandbox's own (sandbox/npm-variant.ts): a bare image (nginx
 * alone: no shell, no curl/wget/nc) publishing its port 80 on host port 8081, the same bare image publishing
 * nothing, the standard image (busybox inside) publishing nothing, and the bare image publishing 80 and 443
 * (8082, 8443) for a host that forces SSL with a custom certificate. All sit on npm_default beside a Compose
 * service `api` answering "docker" on port 4000 and a service `web`. A broken change points a host at `web`
 * with a probe path web does not serve (404): not at api:4999, because NPM's log names the upstream host only
 * (`Sent-to api`), so an old worker still proxying to api:4000 right after the reload would pass for the new
 * upstream; and not at a name Docker's DNS lacks, whose lookups time out and stall nginx's resolver.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import Database from "better-sqlite3";
import { beforeAll, describe, expect, it } from "vitest";
import { ApplyError } from "../../core/errors.js";
import { ExecaRunner } from "../../core/runner.js";
import type { DesiredProxyHost } from "../../core/resources.js";
import { composeFile } from "../../sandbox/fixtures.js";
import { startNpmVariant, type NpmVariant } from "../../sandbox/npm-variant.js";
import { sandbox } from "../../sandbox/sandbox-env.js";
import { NpmProxyHostDriver } from "./npm-driver.js";
import { planProxyHosts } from "./proxy-host-plan.js";

const sb = sandbox({ parts: ["docker", "npm"] });
const runner = new ExecaRunner({ defaultTimeoutMs: 60_000 });
const work = mkdtempSync(join(sb.dir, "npm-probe-"));
const compose = [...sb.compose!, "-p", "probe", "-f", join(work, "docker-compose.yml")];
let published: NpmVariant;
let closed: NpmVariant;
let withTools: NpmVariant;
let tls: NpmVariant;

function host(name: string, over: Partial<DesiredProxyHost> = {}): DesiredProxyHost {
  return {
    kind: "npm.proxyHost", name, domains: [name], forwardScheme: "http", forwardHost: "api", forwardPort: 4000,
    enabled: true, adopt: false, scope: "api", probePath: "/health", ...over,
  };
}

/** A change whose new upstream answers its probe path with 404. */
const BROKEN = { forwardHost: "web", probePath: "/missing" };

function driverFor(npm: NpmVariant, state: string, probeTimeoutMs = 15_000): NpmProxyHostDriver {
  return new NpmProxyHostDriver({ runner, dataDir: npm.data, container: npm.container, stateDir: join(work, state), probeTimeoutMs });
}

async function converge(driver: NpmProxyHostDriver, hosts: DesiredProxyHost[]) {
  return driver.apply(planProxyHosts(hosts, await driver.observe(hosts)));
}

/** `docker exec`s since history index `from`, except nginx's own commands (test, reload, version). */
function execsBesidesNginx(from: number): string[] {
  return runner.history.slice(from).filter((c) => c.file === "docker" && c.args[0] === "exec" && c.args[2] !== "nginx").map((c) => c.args.join(" "));
}

/** A GET through a published host port (what a browser would reach): the body, or the status when not 200. */
function viaPort(name: string, port = 8081): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path: "/health", headers: { Host: name }, agent: false }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve(res.statusCode === 200 ? body.trim() : `HTTP ${res.statusCode}`));
      })
      .on("error", reject);
  });
}

async function eventually(get: () => Promise<string>, want: string, timeoutMs = 5000): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (v === want || Date.now() > until) return v;
    await new Promise((res) => setTimeout(res, 200));
  }
}

/** Everything NPM's database holds about proxy hosts, soft-deleted rows and the id counter included. */
function dbState(npm: NpmVariant): unknown {
  const db = new Database(join(npm.data, "database.sqlite"), { readonly: true });
  try {
    return {
      rows: db.prepare("SELECT * FROM proxy_host ORDER BY id").all(),
      sequence: db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'proxy_host'").get() ?? null,
    };
  } finally {
    db.close();
  }
}

function confFiles(npm: NpmVariant): string[] {
  return readdirSync(join(npm.data, "nginx/proxy_host")).sort();
}

beforeAll(async () => {
  writeFileSync(join(work, "docker-compose.yml"), composeFile({ services: [{ name: "api", port: 4000, body: "docker" }, { name: "web", port: 4000, body: "web" }], network: sb.npmNetwork! }));
  await runner.run(compose[0]!, [...compose.slice(1), "up", "-d"], { mutates: true, timeoutMs: 120_000 });
  [published, closed, withTools] = await Promise.all([
    startNpmVariant({ name: "npm-bare-published", image: "bare", publish: ["8081:80"] }, runner),
    startNpmVariant({ name: "npm-bare-closed", image: "bare" }, runner),
    startNpmVariant({ name: "npm-standard-closed", image: "standard" }, runner),
  ]);
  tls = await startNpmVariant({ name: "npm-bare-tls", image: "bare", publish: ["8082:80", "8443:443"] }, runner);
  // The variants really lack the tools: exec of sh fails the way a slim NPM image fails.
  const sh = await runner.run("docker", ["exec", published.container, "sh", "-c", "true"], { okExitCodes: [0, 126, 127] });
  expect(sh.exitCode).not.toBe(0);
  for (let i = 0; i < 60; i++) {
    const ps = await runner.run("docker", ["ps", "--filter", "label=com.docker.compose.project=probe", "--format", "{{.Status}}"]);
    if (ps.stdout.split("\n").filter((l) => l.includes("(healthy)")).length === 2) break;
    await new Promise((res) => setTimeout(res, 500));
  }
}, 180_000);

describe("the edge probe with any NPM image", () => {
  it("no shell and no HTTP client in NPM: an edge change applies and is verified through the published port", async () => {
    const driver = driverFor(published, "state-published");
    const from = runner.history.length;
    const report = await converge(driver, [host("a.probe.example.org"), host("b.probe.example.org")]);
    expect(report).toEqual({ warnings: [] });
    expect(execsBesidesNginx(from)).toEqual([]);
    expect(await viaPort("a.probe.example.org")).toBe("docker");
    // The probe's own requests reached the upstream: NPM's access log names it for each host.
    for (const id of [1, 2]) {
      const log = readFileSync(join(published.data, "logs", `proxy-host-${id}_access.log`), "utf8");
      expect(log.split("\n").filter((l) => l.includes("tack-probe/")).at(-1)).toContain("[Sent-to api]");
    }
    // Verified means it can fail: an upstream that does not answer is caught through the port and put back.
    const impatient = driverFor(published, "state-published", 3000);
    const err = await converge(impatient, [host("a.probe.example.org", BROKEN), host("b.probe.example.org")]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplyError);
    expect((err as Error).message).toMatch(/probe through NPM failed after the switch, previous row and conf restored: GET \/missing with Host a\.probe\.example\.org through http:\/\/127\.0\.0\.1:8081 \(published by npm-bare-published\): HTTP 404/);
    expect(await eventually(() => viaPort("a.probe.example.org"), "docker")).toBe("docker");
  });

  it("a failed first converge leaves NPM's database exactly as before: no row, no conf, the same id counter", async () => {
    const driver = driverFor(published, "state-first", 3000);
    const before = { db: dbState(published), confs: confFiles(published) };
    const hosts = [host("c.probe.example.org"), host("d.probe.example.org", BROKEN)];
    const err = await converge(driver, hosts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplyError);
    expect(dbState(published)).toEqual(before.db);
    expect(confFiles(published)).toEqual(before.confs);
    // `nginx -s reload` returns once the master is signalled: an old worker may serve c a moment longer.
    expect(await eventually(() => viaPort("c.probe.example.org"), "HTTP 404")).toBe("HTTP 404");
    // Rolling back a first converge asks for the same hosts disabled (every scope's owner was none): no row either.
    const disabled = hosts.map((h) => ({ ...h, enabled: false }));
    expect(planProxyHosts(disabled, await driver.observe(disabled))).toEqual([]);
    // A nginx -t refusal of a created host is put back the same way.
    const refused = await converge(driver, [host("c.probe.example.org", { advancedConfig: "proxy_bogus_directive on;" })]).catch((e: unknown) => e);
    expect((refused as Error).message).toMatch(/nginx -t refused/);
    expect(dbState(published)).toEqual(before.db);
    expect(confFiles(published).filter((f) => f.endsWith(".conf"))).toEqual(before.confs.filter((f) => f.endsWith(".conf")));
  });

  it("nothing published and no tool in NPM: the change passes with an unverified warning, never rolls back", async () => {
    const driver = driverFor(closed, "state-closed", 3000);
    // Port 4999 answers nothing: a probe would fail this change, so passing shows no probe was made.
    const report = await converge(driver, [host("e.probe.example.org", { forwardPort: 4999 })]);
    expect(report.warnings).toHaveLength(1);
    expect(report.warnings[0]).toMatch(/^NPM changes applied but unverified: e\.probe\.example\.org not probed \(npm-bare-closed publishes no HTTP or HTTPS port, and no HTTP client can run in npm-bare-closed \(tried curl, wget, nc\)/);
    const db = new Database(join(closed.data, "database.sqlite"), { readonly: true });
    expect(db.prepare("SELECT forward_port, is_deleted FROM proxy_host").all()).toEqual([{ forward_port: 4999, is_deleted: 0 }]);
    db.close();
    expect(confFiles(closed)).toEqual(["1.conf"]);
    expect(planProxyHosts([host("e.probe.example.org", { forwardPort: 4999 })], await driver.observe([host("e.probe.example.org", { forwardPort: 4999 })]))).toEqual([]);
  });

  it("nothing published, a shell and wget in NPM: the probe runs inside the container, a batch in one exec", async () => {
    const hosts = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => host(`batch-${i}.probe.example.org`));
    const driver = driverFor(withTools, "state-tools");
    const from = runner.history.length;
    expect(await converge(driver, hosts)).toEqual({ warnings: [] });
    // One request finds the tool, then the other 7 go in one `sh -c` loop.
    const batches = runner.history.slice(from).filter((c) => c.args.includes("tack-probe"));
    expect(batches.length).toBeGreaterThanOrEqual(1);
    expect(batches[0]!.args.slice(batches[0]!.args.indexOf("tack-probe") + 1)).toHaveLength(7 * 3);
    const failing = driverFor(withTools, "state-tools", 3000);
    const err = await converge(failing, [host("batch-1.probe.example.org", BROKEN), ...hosts.slice(1)]).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/GET \/missing with Host batch-1\.probe\.example\.org through npm-standard-closed \(no published port\): HTTP 404/);
  });

  it("a host that forces SSL with a certificate is probed over the published HTTPS port, with SNI", async () => {
    // A custom certificate as NPM stores one: a certificate row and /data/custom_ssl/npm-<id>/.
    const db = new Database(join(tls.data, "database.sqlite"));
    const cert = Number(
      db.prepare("INSERT INTO certificate (created_on, modified_on, owner_user_id, provider, nice_name, domain_names, expires_on, meta) VALUES ('2026-01-01 00:00:00', '2026-01-01 00:00:00', 1, 'other', 'test', '[\"f.probe.example.org\"]', '2036-01-01 00:00:00', '{}')").run().lastInsertRowid,
    );
    db.close();
    const dir = join(tls.data, "custom_ssl", `npm-${cert}`);
    mkdirSync(dir, { recursive: true });
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=f.probe.example.org", "-days", "1", "-keyout", join(dir, "privkey.pem"), "-out", join(dir, "fullchain.pem")], { stdio: "ignore" });
    const forced = (over: Partial<DesiredProxyHost> = {}) => host("f.probe.example.org", { sslForced: true, certificateId: cert, ...over });
    const driver = driverFor(tls, "state-tls");
    expect(await converge(driver, [forced()])).toEqual({ warnings: [] });
    // Over HTTP NPM only redirects: the probe's answer came from the upstream, over TLS. (An old worker, which
    // predates f, may take this request right after the reload and answer 404: hence eventually.)
    expect(await eventually(() => viaPort("f.probe.example.org", 8082), "HTTP 301")).toBe("HTTP 301");
    const log = readFileSync(join(tls.data, "logs", "proxy-host-1_access.log"), "utf8");
    expect(log.split("\n").filter((l) => l.includes("tack-probe/")).at(-1)).toContain("[Sent-to api]");
    const err = await converge(driverFor(tls, "state-tls", 3000), [forced(BROKEN)]).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/GET \/missing with Host f\.probe\.example\.org through https:\/\/127\.0\.0\.1:8443 \(published by npm-bare-tls\): HTTP 404/);
  });
});
