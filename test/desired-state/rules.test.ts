import { mkdir, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { loadDesiredState } from "../../desired-state/index.js";
import { formatFinding } from "../../core/findings.js";
import { tempDir } from "../helpers/temp-repo.js";

const UNIT = "[Unit]\nDescription=x\n[Service]\nExecStart=/bin/true\n";
const COMPOSE = "services:\n  api: { image: x }\n  web: { image: x }\n";

/** A small valid Host; each test changes one thing. */
function baseDoc(): Record<string, any> {
  return {
    apiVersion: "tack/v1",
    kind: "Host",
    metadata: { name: "h1" },
    runtimes: { native: { systemd: { scope: "user" } }, docker: { compose: { project: "p", files: ["compose.yml"] } } },
    scopes: {
      api: {
        owner: "docker",
        native: { units: ["api.service"], port: 4000 },
        docker: { services: ["api"], upstream: "api", port: 4000 },
        health: { http: "http://127.0.0.1:4000/health", timeout: "30s" },
      },
    },
    edge: { npm: { dataDir: "/srv/npm/data", container: "npm", network: "npm_default" }, proxyHosts: [{ domains: ["api.example.org"], scope: "api" }] },
    firewall: { ufw: { rules: [{ allow: "tcp", port: 22 }] } },
    dns: { cloudflare: { zone: "example.org", token: { env: "CF_TOKEN" } }, records: [{ name: "api.example.org", type: "A", content: "203.0.113.1" }] },
  };
}

async function repoWith(doc: unknown, extra: (dir: string) => Promise<void> = async () => {}): Promise<string> {
  const dir = await tempDir();
  await mkdir(path.join(dir, "units"));
  await writeFile(path.join(dir, "units/api.service"), UNIT);
  await writeFile(path.join(dir, "compose.yml"), COMPOSE);
  await writeFile(path.join(dir, "tack.yaml"), typeof doc === "string" ? doc : stringify(doc));
  await extra(dir);
  return dir;
}

async function errorsOf(doc: unknown, extra?: (dir: string) => Promise<void>): Promise<string[]> {
  const r = await loadDesiredState(await repoWith(doc, extra));
  return r.findings.filter((f) => f.severity === "error").map(formatFinding);
}

function mutate(fn: (d: Record<string, any>) => void) {
  const d = baseDoc();
  fn(d);
  return d;
}

describe("schema and semantic rules: good and bad", () => {
  it("the base document is valid", async () => {
    expect(await errorsOf(baseDoc())).toEqual([]);
  });

  const bad: [string, (d: Record<string, any>) => void, RegExp][] = [
    ["apiVersion", (d) => (d.apiVersion = "tack/v2"), /apiVersion: must be "tack\/v1" \(got "tack\/v2"\)/],
    ["kind", (d) => (d.kind = "Cluster"), /kind: must be "Host"/],
    ["unknown key", (d) => (d.scopes.api.ownr = "x"), /scopes\.api\.ownr: unknown key/],
    ["owner enum", (d) => (d.scopes.api.owner = "natve"), /scopes\.api\.owner: must be one of native, docker, none \(got "natve"\)/],
    ["handoff enum", (d) => (d.scopes.api.handoff = "both"), /scopes\.api\.handoff: must be one of exclusive, overlap/],
    ["port range", (d) => (d.scopes.api.native.port = 70000), /scopes\.api\.native\.port: must be at most 65535/],
    ["unit name grammar", (d) => (d.scopes.api.native.units = ["../../etc/passwd"]), /scopes\.api\.native\.units\[0\]: must be a systemd unit name/],
    ["duration", (d) => (d.scopes.api.health.timeout = "soon"), /scopes\.api\.health\.timeout: must be a duration/],
    ["health http url", (d) => (d.scopes.api.health.http = "ftp://x"), /scopes\.api\.health\.http: must be an http\(s\) URL/],
    ["missing unit file", (d) => (d.scopes.api.native.units = ["other.service"]), /scopes\.api\.native\.units\[0\]: unit file missing or refused: file "units\/other\.service" does not exist/],
    ["missing compose service", (d) => (d.scopes.api.docker.services = ["nope"]), /scopes\.api\.docker\.services\[0\]: compose service "nope" is not in compose\.yml/],
    ["missing compose file", (d) => (d.runtimes.docker.compose.files = ["gone.yml"]), /runtimes\.docker\.compose\.files\[0\]: file "gone\.yml" does not exist/],
    ["proxy host naming no scope", (d) => (d.edge.proxyHosts[0].scope = "apii"), /edge\.proxyHosts\[0\]\.scope: names no scope "apii"/],
    ["proxied scope without port", (d) => delete d.scopes.api.docker.port, /scopes\.api\.docker\.port is needed/],
    [
      "two scopes on one port",
      (d) => (d.scopes.web = { owner: "docker", native: { units: ["api.service"], port: 4000 }, docker: { services: ["web"] } }),
      /port 4000 is claimed by scope "api" too/,
    ],
    ["two scopes on one unit", (d) => (d.scopes.web = { owner: "docker", native: { units: ["api.service"] }, docker: { services: ["web"] } }), /unit api\.service is claimed by scope "api" too/],
    ["two scopes on one service", (d) => (d.scopes.web = { owner: "docker", docker: { services: ["api"] } }), /compose service api is claimed by scope "api" too/],
    ["owner without runtime", (d) => { d.scopes.api.owner = "native"; delete d.scopes.api.native; }, /owner is native, so the scope needs a "native:" runtime/],
    ["after names no scope", (d) => (d.scopes.api.after = ["db"]), /scopes\.api\.after\[0\]: names no scope "db"/],
    [
      "after cycle",
      (d) => {
        d.scopes.api.after = ["web"];
        d.scopes.web = { owner: "docker", after: ["api"], docker: { services: ["web"] } };
      },
      /scope order has a cycle/,
    ],
    ["record outside zone", (d) => (d.dns.records[0].name = "api.example.com"), /dns\.records\[0\]\.name: api\.example\.com is outside the zone example\.org/],
    ["proxied TXT", (d) => (d.dns.records[0] = { name: "example.org", type: "TXT", content: "v=spf1", proxied: true }), /dns\.records\[0\]\.proxied: only A, AAAA and CNAME records can be proxied \(this is TXT\)/],
    ["CNAME clash", (d) => d.dns.records.push({ name: "api.example.org", type: "CNAME", content: "x.example.org" }), /a CNAME cannot share the name api\.example\.org/],
    ["ttl range", (d) => (d.dns.records[0].ttl = 30), /dns\.records\[0\]\.ttl: must be 1 \(automatic\) or 60 to 86400/],
    ["secret as a literal", (d) => (d.dns.cloudflare.token = "abc123"), /dns\.cloudflare\.token: must be a secret reference/],
    ["ufw action", (d) => (d.firewall.ufw.rules[0] = { port: 22 }), /give exactly one of allow, deny, reject, limit/],
    ["ufw comment quote", (d) => (d.firewall.ufw.rules[0].comment = "it's"), /a ufw comment cannot contain quotes/],
    ["ufw address", (d) => (d.firewall.ufw.rules[0].from = "evil; rm -rf /"), /from: must be any, npm-bridge, or an IPv4\/IPv6 address/],
    ["advanced config breaking out", (d) => (d.edge.proxyHosts[0].advancedConfig = "} server { listen 8080;"), /advanced config closes a block it did not open/],
    ["duplicate domain", (d) => d.edge.proxyHosts.push({ domains: ["api.example.org"], scope: "api" }), /domain api\.example\.org is already served by edge\.proxyHosts\[0\]/],
    ["npm-bridge without npm", (d) => { d.firewall.ufw.rules[0].from = "npm-bridge"; delete d.edge; }, /npm-bridge needs edge\.npm\.network/],
    ["overlap on one health URL", (d) => { d.scopes.api.handoff = "overlap"; }, /overlap runs both runtimes at once: give the docker runtime its own health URL/],
  ];
  for (const [name, fn, re] of bad) {
    it(`refuses: ${name}`, async () => {
      const errors = await errorsOf(mutate(fn));
      expect(errors.join("\n")).toMatch(re);
      expect(errors.every((e) => /^tack\.yaml:\d+:\d+ /.test(e))).toBe(true);
    });
  }

  it("accepts the good variants of those rules", async () => {
    const good = mutate((d) => {
      d.scopes.api.handoff = "overlap";
      d.scopes.api.docker.health = { http: "http://127.0.0.1:14000/health" };
      d.scopes.api.after = ["web"];
      d.scopes.web = { owner: "native", native: { units: ["web.service"], port: 3000, systemd: { scope: "system" } }, docker: { services: ["web"], port: 3000 } };
      d.edge.proxyHosts.push({ domains: ["example.org", "www.example.org"], scope: "web", advancedConfig: "location /x { return 204; } # }" });
      d.firewall.ufw.rules.push({ limit: "tcp", port: "6000:6010", from: "npm-bridge", comment: "range" }, { deny: "any", from: "2001:db8::/32" });
      d.dns.records.push({ name: "example.org", type: "TXT", content: "v=spf1 -all", ttl: 300 }, { name: "www.example.org", type: "CNAME", content: "example.org", proxied: true });
      d.dns.cloudflare.token = { file: "/etc/tack/cf-token" };
      d.policy = { mode: "observe", layers: { dns: "enforce" }, safety: { maxChangePercent: 50, allowLargeChanges: true }, drift: { interval: "30s" } };
    });
    expect(await errorsOf(good, (dir) => writeFile(path.join(dir, "units/web.service"), UNIT))).toEqual([]);
  });
});

describe("the repo is input, not code", () => {
  it("refuses invalid YAML with its line", async () => {
    const errors = await errorsOf("apiVersion: tack/v1\nkind: Host\nmetadata: { name: h1\n");
    expect(errors[0]).toMatch(/^tack\.yaml:\d+:\d+ invalid YAML: /);
  });

  it("refuses an alias bomb without expanding it", async () => {
    const lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 10; i++) lines.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(", ")}]`);
    const started = Date.now();
    const errors = await errorsOf(`apiVersion: tack/v1\nkind: Host\nmetadata: { name: h1 }\n${lines.join("\n")}\n`);
    expect(errors.join("\n")).toMatch(/refused: .*alias/i);
    expect(Date.now() - started).toBeLessThan(5000); // 10^10 nodes if it expanded
  });

  it("refuses a huge tack.yaml", async () => {
    const errors = await errorsOf("# " + "x".repeat(2 * 1024 * 1024) + "\n");
    expect(errors.join("\n")).toMatch(/over the limit of 1048576 bytes/);
  });

  it("refuses a huge unit file", async () => {
    const errors = await errorsOf(baseDoc(), (dir) => writeFile(path.join(dir, "units/api.service"), UNIT + "#".repeat(300 * 1024)));
    expect(errors.join("\n")).toMatch(/units\/api\.service" is \d+ bytes, over the limit/);
  });

  it("refuses a compose path escaping the repo", async () => {
    const errors = await errorsOf(mutate((d) => (d.runtimes.docker.compose.files = ["../../etc/passwd"])));
    expect(errors.join("\n")).toMatch(/leaves the repo/);
  });

  it("refuses an absolute path", async () => {
    const errors = await errorsOf(mutate((d) => (d.runtimes.docker.compose.files = ["/etc/passwd"])));
    expect(errors.join("\n")).toMatch(/must be relative to the repo/);
  });

  it("refuses a symlink leading out of the repo", async () => {
    const errors = await errorsOf(baseDoc(), async (dir) => {
      await writeFile(path.join(dir, "units/api.service"), "");
      await (await import("node:fs/promises")).rm(path.join(dir, "units/api.service"));
      await symlink("/etc/hostname", path.join(dir, "units/api.service"));
    });
    expect(errors.join("\n")).toMatch(/symlink leading out of the repo/);
  });

  it("refuses a unitsDir escaping the repo", async () => {
    const errors = await errorsOf(mutate((d) => (d.runtimes.native.systemd.unitsDir = "../outside")));
    expect(errors.join("\n")).toMatch(/leaves the repo/);
  });
});

describe("fleets", () => {
  const second = () => mutate((d) => (d.metadata.name = "h2"));
  it("selects a lone Host without --host, one of a fleet with it, and asks when ambiguous", async () => {
    const dir = await repoWith(`${stringify(baseDoc())}---\n${stringify(second())}`);
    expect((await loadDesiredState(dir, { host: "h2" })).resolved?.host).toBe("h2");
    const amb = await loadDesiredState(dir);
    expect(amb.resolved).toBeUndefined();
    expect(amb.findings.map(formatFinding).join("\n")).toMatch(/declares 2 hosts \(h1, h2\): choose one with --host NAME/);
    expect((await loadDesiredState(dir, { host: "h3" })).findings.map(formatFinding).join("\n")).toMatch(/no Host named "h3"/);
  });
  it("reads hosts/*.yaml too, and refuses a name declared twice", async () => {
    const dir = await repoWith(baseDoc(), async (d) => {
      await mkdir(path.join(d, "hosts"));
      await writeFile(path.join(d, "hosts/h2.yaml"), stringify(second()));
      await writeFile(path.join(d, "hosts/dup.yaml"), stringify(baseDoc()));
    });
    const r = await loadDesiredState(dir, { host: "h2" });
    expect(r.hosts).toEqual(["h1", "h1", "h2"]); // hosts/ files in name order
    expect(r.findings.map(formatFinding).join("\n")).toMatch(/hosts\/dup\.yaml:\d+:\d+ metadata\.name: host "h1" is declared twice/);
  });
});
