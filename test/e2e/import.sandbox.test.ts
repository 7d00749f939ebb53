import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { parse as parseYaml, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../cli/program.js";
import { ExecaRunner } from "../../core/runner.js";
import { defaultUnitDir } from "../../kinds/systemd-unit/systemd-driver.js";
import { renderProxyHostConf } from "../../kinds/npm-proxy-host/render-conf.js";
import { rowToModel, type ProxyHostRow } from "../../kinds/npm-proxy-host/row.js";
import { Journal } from "../../run/journal.js";
import { applyRevision, dirRevision, planLive, resolveLive, type ReconcileContext } from "../../run/reconcile.js";
import { startCloudflareEmulator, type CloudflareEmulator } from "../../sandbox/cloudflare-emulator/emulator.js";
import { composeFile, npmBridge } from "../../sandbox/fixtures.js";
import { sandbox } from "../../sandbox/sandbox-env.js";

/**
 * issue 19, `tack import`: a host made by hand (NPM rows and confs as NPM's UI leaves them, hand-typed UFW rules, a
 * seeded zone, a running compose project, a running native unit) is imported; the result validates, its first plan
 * only takes ownership, its apply leaves every conf, rule, record, unit and container as it was (byte for byte, apart
 * from the ownership markers in UFW and DNS comments), and the plan after it is empty. Then the bad inputs.
 */

const sb = sandbox({ parts: ["systemd", "docker", "ufw", "npm"] });
const scope = sb.systemdScope === "system" ? "system" : "user";
const runner = new ExecaRunner({ defaultTimeoutMs: 60_000 });
const TOKEN = "import-cloudflare-token-0123456789";
const data = sb.npmData!;
const confDir = path.join(data, "nginx", "proxy_host");
let cf: CloudflareEmulator;
let base: string;
let bridge: { gateway: string; subnet: string };

async function tack(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

const ufw = (...args: string[]) => runner.run("ufw", args, { mutates: true });
const systemctl = (...args: string[]) => runner.run("systemctl", [...(scope === "user" ? ["--user"] : []), ...args], { mutates: true });

/** NPM's Liquid output keeps the template's indentation and leaves blank lines where `{% if %}` tags stood. */
function asNpmWritesIt(conf: string): string {
  return conf.split("\n").map((l) => (l.trim() === "" ? "\n\n" : `  ${l}`)).join("\n") + "\n\n";
}

function insertRow(db: Database.Database, row: Partial<ProxyHostRow> & { domain_names: string; forward_host: string; forward_port: number }): number {
  const cols = { created_on: "2026-01-01 00:00:00", modified_on: "2026-01-01 00:00:00", owner_user_id: 1, meta: '{"nginx_online":true,"nginx_err":null}', locations: "[]", ...row };
  const names = Object.keys(cols);
  return Number(db.prepare(`INSERT INTO proxy_host (${names.join(", ")}) VALUES (${names.map(() => "?").join(", ")})`).run(...Object.values(cols)).lastInsertRowid);
}

async function buildHandMadeHost(): Promise<void> {
  // A native unit started by hand, listening on 4100.
  const www = path.join(base, "www");
  mkdirSync(www, { recursive: true });
  writeFileSync(path.join(www, "health"), "native ok\n");
  const unitDir = defaultUnitDir(scope);
  mkdirSync(unitDir, { recursive: true });
  writeFileSync(path.join(unitDir, "shop-api.service"), `[Unit]\nDescription=shop api\n\n[Service]\nExecStart=/bin/busybox httpd -f -p 4100 -h ${www}\n\n[Install]\nWantedBy=default.target\n`);
  await systemctl("daemon-reload");
  await systemctl("enable", "--now", "shop-api.service");

  // A compose project started by hand, on NPM's network, with a secret in its environment.
  const src = path.join(base, "shop-src");
  mkdirSync(src, { recursive: true });
  const doc = parseYaml(composeFile({ services: [{ name: "web", port: 8080 }], network: sb.npmNetwork! })) as { services: Record<string, Record<string, unknown>> };
  doc.services.web!.environment = { MODE: "production", SHOP_API_TOKEN: "s3cret-value" };
  writeFileSync(path.join(src, "docker-compose.yml"), stringify(doc));
  await runner.run(sb.compose![0]!, [...sb.compose!.slice(1), "-p", "shop", "-f", path.join(src, "docker-compose.yml"), "up", "-d"], { mutates: true, cwd: src });

  // NPM rows and confs as NPM's UI makes them: one with a certificate, one with advanced config, one outside the import.
  const db = new Database(path.join(data, "database.sqlite"));
  try {
    db.prepare("INSERT INTO certificate (created_on, modified_on, owner_user_id, provider, nice_name, domain_names, expires_on, meta) VALUES ('2026-01-01 00:00:00', '2026-01-01 00:00:00', 1, 'other', 'shop', ?, '2027-01-01 00:00:00', '{}')").run(JSON.stringify(["shop.example.org"]));
    insertRow(db, { domain_names: JSON.stringify(["shop.example.org"]), forward_host: "web", forward_port: 8080, certificate_id: 1, ssl_forced: 1, block_exploits: 1, allow_websocket_upgrade: 1 });
    insertRow(db, { domain_names: JSON.stringify(["api.example.org"]), forward_host: bridge.gateway, forward_port: 4100, advanced_config: "client_max_body_size 20m;\nproxy_read_timeout 90s;" });
    insertRow(db, { domain_names: JSON.stringify(["old.example.net"]), forward_host: "10.9.9.9", forward_port: 8080 });
    const nginxVersion = /nginx\/([\d.]+)/.exec((await runner.run("docker", ["exec", sb.npmContainer!, "nginx", "-v"])).stderr)![1]!;
    for (const row of db.prepare("SELECT * FROM proxy_host").all() as ProxyHostRow[]) {
      const model = rowToModel(row);
      const conf = renderProxyHostConf(model, { nginxVersion, ipv6: true, ...(model.certificateId ? { certificate: { provider: "other" } } : {}) })!;
      writeFileSync(path.join(confDir, `${row.id}.conf`), asNpmWritesIt(conf));
    }
  } finally {
    db.close();
  }
  // The custom certificate NPM keeps under /data/custom_ssl/npm-<id>, so NPM's nginx loads the conf for real.
  const cert = path.join(data, "custom_ssl", "npm-1");
  mkdirSync(cert, { recursive: true });
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=shop.example.org", "-keyout", path.join(cert, "privkey.pem"), "-out", path.join(cert, "fullchain.pem")], { stdio: "ignore" });
  await runner.run("docker", ["exec", sb.npmContainer!, "nginx", "-t"]);
  await runner.run("docker", ["exec", sb.npmContainer!, "nginx", "-s", "reload"], { mutates: true });

  // UFW rules typed by hand.
  await ufw("allow", "22/tcp");
  await ufw("allow", "proto", "tcp", "from", bridge.subnet, "to", "any", "port", "4100", "comment", "npm to the shop api");
  await ufw("allow", "proto", "tcp", "from", "any", "to", "any", "port", "443", "comment", "https");
  await ufw("deny", "proto", "udp", "from", "any", "to", "any", "port", "5353");

  cf = await startCloudflareEmulator({ token: TOKEN, zones: [{ name: "example.org" }] });
  cf.seed("example.org", [
    { type: "A", name: "shop.example.org", content: "203.0.113.10", proxied: true, ttl: 1 },
    { type: "A", name: "api.example.org", content: "203.0.113.10", proxied: false, ttl: 300, comment: "origin, DNS only" },
    { type: "TXT", name: "example.org", content: "v=spf1 -all", ttl: 3600 },
    { type: "TXT", name: "_dmarc.example.org", content: "v=DMARC1; p=none", ttl: 3600 },
    { type: "CNAME", name: "legacy.example.org", content: "shop.example.org", proxied: false, ttl: 1, comment: "tack:other-host" },
  ]);
  process.env.CLOUDFLARE_API_TOKEN = TOKEN;
  process.env.CLOUDFLARE_BASE_URL = cf.baseURL;
}

interface HostSnapshot {
  confs: Record<string, string>;
  rules: string[];
  records: string[];
  unitFile: string;
  unitPid: string;
  containers: string;
  rows: string;
}

/** What serves traffic, with UFW and DNS comments (where the ownership markers go) set apart. */
async function snapshot(): Promise<HostSnapshot> {
  const confs = Object.fromEntries(readdirSync(confDir).sort().map((f) => [f, readFileSync(path.join(confDir, f), "utf8")]));
  const rules = ["/etc/ufw/user.rules", "/etc/ufw/user6.rules"].flatMap((f) => readFileSync(f, "utf8").split("\n")).map((l) => l.replace(/ comment=[0-9a-f]+$/, "")).filter((l) => !l.startsWith("#") || l.startsWith("### tuple"));
  const records = cf.records("example.org").map((r) => `${r.id} ${r.type} ${r.name} ${r.content} ttl=${r.ttl} proxied=${r.proxied}`).sort();
  const unitFile = readFileSync(path.join(defaultUnitDir(scope), "shop-api.service"), "utf8");
  const unitPid = (await systemctl("show", "-p", "MainPID,ActiveEnterTimestamp", "shop-api.service")).stdout;
  const containers = (await runner.run("docker", ["ps", "-a", "--no-trunc", "--filter", "label=com.docker.compose.project=shop", "--format", "{{.ID}} {{.Status}} {{.Label \"com.docker.compose.config-hash\"}}"])).stdout;
  const db = new Database(path.join(data, "database.sqlite"), { readonly: true });
  const rows = JSON.stringify(db.prepare("SELECT * FROM proxy_host ORDER BY id").all());
  db.close();
  // The status says how long a container has been up: only its id, state and config hash must stay.
  return { confs, rules, records, unitFile, unitPid, containers: containers.replace(/Up .*? (?=[0-9a-f]{64})/g, "Up "), rows };
}

beforeAll(async () => {
  base = mkdtempSync(path.join(sb.dir, "import-"));
  bridge = await npmBridge(runner);
  await buildHandMadeHost();
}, 240_000);

afterAll(async () => {
  await cf?.close();
});

describe("tack import on a hand-made host", () => {
  const out = () => path.join(base, "desired");
  const importArgs = (dir: string) => [
    "import", "--out", dir, "--host", "vps-1",
    "--npm-data-dir", data, "--npm-container", sb.npmContainer!, "--npm-network", sb.npmNetwork!,
    "--domains", "*.example.org", "--zone", "example.org", "--compose-project", "shop",
    "--units", "shop-*", "--systemd-scope", scope,
  ];
  let journal: Journal;
  let ctx: ReconcileContext;
  let before: HostSnapshot;

  it("--dry-run prints the directory and writes nothing", async () => {
    // NPM's data dir found from its container's /data mount; every proxy host, the hand-made outside one included.
    const args = importArgs(out()).filter((a, i, all) => a !== "--npm-data-dir" && all[i - 1] !== "--npm-data-dir").map((a) => (a === "*.example.org" ? "*" : a));
    const r = await tack([...args, "--dry-run"]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("--- tack.yaml");
    expect(r.out).toContain("--- units/shop-api.service");
    expect(existsSync(out())).toBe(false);
    expect(r.out).toContain(`dataDir: ${data}`);
    expect(r.out).toMatch(/# {3}row #3 forwards to 10\.9\.9\.9:8080, neither NPM's bridge gateway \(.*\) nor a service of the imported compose project\n.*# {3}- \{ domains: \[ old\.example\.net \], forwardHost: 10\.9\.9\.9, forwardPort: 8080 \}/);
    // The compose file now reads its secret from the environment, which does not hold it yet: the import says so.
    expect(r.out).toMatch(/scope shop: Compose computes another config hash for web from the imported files than its containers carry .*: the first apply would recreate it/);
  });

  it("writes a directory that tack validate accepts, with secrets removed and the outside host left out", async () => {
    // The secret the compose file now reads from the agent's environment (/etc/tack/env on a host).
    process.env.SHOP_API_TOKEN = "s3cret-value";
    const r = await tack(importArgs(out()));
    expect(r.code, `${r.out}\n${r.err}`).toBe(0);
    const v = await tack(["validate", out()]);
    expect(v.code, v.err).toBe(0);
    expect(v.out).toMatch(/valid: vps-1 .*2 scopes, 1 units, 1 compose services, 2 proxy hosts, 4 firewall rules, 3 DNS records/);
    const yaml = readFileSync(path.join(out(), "tack.yaml"), "utf8");
    expect(yaml).not.toContain("old.example.net");
    expect(yaml).not.toContain(TOKEN);
    expect(yaml).toContain("env: CLOUDFLARE_API_TOKEN");
    expect(yaml).toMatch(/# not imported \(DNS records\):/);
    expect(yaml).toMatch(/name _dmarc\.example\.org is not a lowercase DNS name/);
    expect(yaml).not.toMatch(/config hash/);
    expect(yaml).toMatch(/owned by host other-host/);
    const compose = readFileSync(path.join(out(), "compose/docker-compose.yml"), "utf8");
    expect(compose).not.toContain("s3cret-value");
    expect(compose).toMatch(/SHOP_API_TOKEN: \$\{SHOP_API_TOKEN\} # tack import: the value of SHOP_API_TOKEN was removed/);
    const doc = parseYaml(yaml) as { scopes: Record<string, unknown>; edge: { proxyHosts: Record<string, unknown>[] } };
    expect(doc.scopes).toEqual({
      shop: { owner: "docker", docker: { services: ["web"], upstream: "web", port: 8080 } },
      api: { owner: "native", native: { units: ["shop-api.service"], port: 4100 } },
    });
    expect(doc.edge.proxyHosts).toContainEqual(expect.objectContaining({ domains: ["shop.example.org"], certificateId: 1, sslForced: true, adopt: true }));
    expect(doc.edge.proxyHosts).toContainEqual(expect.objectContaining({ domains: ["api.example.org"], advancedConfig: "client_max_body_size 20m;\nproxy_read_timeout 90s;" }));
  });

  it("plans nothing but taking ownership: zero disruptive or destructive steps", async () => {
    journal = new Journal(path.join(base, "state"));
    ctx = { runner, stateDir: path.join(base, "state"), journal };
    const { plan } = await planLive(await resolveLive(out(), ctx), await dirRevision(out()), ctx);
    expect(plan.findings.filter((f) => f.severity === "error")).toEqual([]);
    expect(plan.changes.filter((c) => c.risk !== "safe")).toEqual([]);
    const fields = plan.changes.map((c) => `${c.ref.kind} ${c.ref.name}: ${c.fields.map((f) => f.field).join(",")}`).sort();
    expect(fields).toEqual([
      "cloudflare.record A api.example.org: comment",
      "cloudflare.record A shop.example.org: comment",
      "cloudflare.record TXT example.org: comment",
      "compose.service shop/web: ownership",
      "npm.proxyHost api.example.org: ownership",
      "npm.proxyHost shop.example.org: ownership",
      "systemd.unit shop-api.service: ownership",
      `ufw.rule allow in tcp 22 from any to any: comment`,
      `ufw.rule allow in tcp 4100 from ${bridge.subnet} to any: comment`,
      `ufw.rule allow in tcp 443 from any to any: comment`,
      `ufw.rule deny in udp 5353 from any to any: comment`,
    ]);
  });

  it("apply changes nothing that serves traffic, byte for byte; the next plan is empty", async () => {
    before = await snapshot();
    const applied = await applyRevision({ dir: out() }, ctx);
    expect(applied.status, applied.error).toBe("applied");
    const after = await snapshot();
    expect(after).toEqual(before);
    // Only the ownership markers moved.
    expect(cf.records("example.org").filter((r) => r.comment?.startsWith("tack:vps-1")).length).toBe(3);
    expect(readFileSync("/etc/ufw/user.rules", "utf8")).toContain(`comment=${Buffer.from("tack: npm to the shop api").toString("hex")}`);
    const { plan } = await planLive(await resolveLive(out(), ctx), await dirRevision(out()), ctx);
    expect(plan.changes).toEqual([]);
  });
});

describe("tack import refuses bad input with a clear error", () => {
  it("an output dir that already holds a tack.yaml, unless --force", async () => {
    const dir = path.join(base, "existing");
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "tack.yaml"), "# mine\n");
    const args = ["import", "--out", dir, "--host", "vps-1", "--no-ufw", "--units", "shop-*", "--systemd-scope", scope];
    const r = await tack(args);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/tack\.yaml already exists: tack import does not overwrite a desired state \(use --force/);
    expect(readFileSync(path.join(dir, "tack.yaml"), "utf8")).toBe("# mine\n");
    const forced = await tack([...args, "--force"]);
    expect(forced.code, forced.err).toBe(0);
    expect(readFileSync(path.join(dir, "tack.yaml"), "utf8")).toContain("shop-api.service");
  });

  it("an unreachable Docker", async () => {
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = `unix://${path.join(base, "no-docker.sock")}`;
    try {
      const r = await tack(["import", "--out", path.join(base, "no-docker"), "--host", "vps-1", "--no-ufw", "--compose-project", "shop"]);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/cannot read compose project shop: Docker is unreachable \(unix:\/\/.*no-docker\.sock\)/);
      expect(existsSync(path.join(base, "no-docker"))).toBe(false);
    } finally {
      process.env.DOCKER_HOST = saved;
    }
  });

  it("an NPM database locked by NPM itself", async () => {
    const db = new Database(path.join(data, "database.sqlite"));
    db.exec("BEGIN EXCLUSIVE");
    try {
      const r = await tack(["import", "--out", path.join(base, "locked"), "--host", "vps-1", "--no-ufw", "--npm-data-dir", data, "--npm-container", sb.npmContainer!, "--npm-network", sb.npmNetwork!]);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/NPM's database is locked \(NPM itself is writing it\); try again in a moment/);
    } finally {
      db.exec("ROLLBACK");
      db.close();
    }
  }, 60_000);

  it("a zone the token cannot read", async () => {
    const r = await tack(["import", "--out", path.join(base, "zone"), "--host", "vps-1", "--no-ufw", "--zone", "example.net"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot read Cloudflare zone example\.net: Cloudflare zone example\.net not found \(or the token cannot see it\)/);
    rmSync(path.join(base, "zone"), { recursive: true, force: true });
  });
});
