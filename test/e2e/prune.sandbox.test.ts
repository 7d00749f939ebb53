import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { islandflowHost, type IslandflowHost } from "../../sandbox/islandflow-host.js";
import { sandbox } from "../../sandbox/sandbox-env.js";

/**
 * Prune by inventory (issue: reliability on real hosts): a scope removed from the repo takes everything tack made
 * for it along: its containers (even with the service still in the compose file) or its unit (stopped, disabled, its
 * file removed), its NPM row and conf, its UFW rule and its DNS record. The other scopes are not touched, and the next
 * plan is empty.
 */

async function containers(h: IslandflowHost): Promise<Map<string, string>> {
  const r = await h.runner.run("docker", ["ps", "-a", "--filter", "label=com.docker.compose.project=islandflow", "--format", '{{.Label "com.docker.compose.service"}} {{.ID}}']);
  return new Map(r.stdout.split("\n").filter(Boolean).map((l) => l.split(" ") as [string, string]));
}

function npmRows(): { domain_names: string; is_deleted: number; id: number }[] {
  const db = new Database(path.join(sandbox().npmData!, "database.sqlite"), { readonly: true });
  try {
    return db.prepare("SELECT id, domain_names, is_deleted FROM proxy_host ORDER BY id").all() as { domain_names: string; is_deleted: number; id: number }[];
  } finally {
    db.close();
  }
}

const liveDomains = () => npmRows().filter((r) => r.is_deleted === 0).map((r) => (JSON.parse(r.domain_names) as string[]).join(","));
const confs = () => readdirSync(path.join(sandbox().npmData!, "nginx", "proxy_host")).filter((f) => f.endsWith(".conf")).sort();
const records = (h: IslandflowHost) => h.cf.records("example.org").map((r) => `${r.type} ${r.name}`).sort();
const ufwRules = () => readFileSync("/etc/ufw/user.rules", "utf8");

async function unitState(h: IslandflowHost, unit: string): Promise<string> {
  const r = await h.runner.run("systemctl", ["--user", "show", "-p", "ActiveState,UnitFileState,LoadState", unit]);
  return r.stdout.trim().split("\n").sort().join(" ");
}

describe("a scope removed from the repo is pruned, by inventory", () => {
  let h: IslandflowHost;
  beforeAll(async () => {
    h = await islandflowHost();
    const out = await h.apply();
    expect(out.status, out.error).toBe("applied");
  });
  afterAll(async () => {
    await h?.close();
  });

  it("while docker-owned: its containers (still in the compose file), NPM row and conf, UFW rule and record go", async () => {
    const before = await containers(h);
    expect([...before.keys()].sort()).toEqual(["api", "ingest-options", "web", "workers"]);
    expect(liveDomains()).toContain("flow.example.org");
    const confsBefore = confs();
    await h.edit(/\n {2}web:\n( {4}.*\n| {6}.*\n)+/, "\n");
    await h.edit(/\n {4}- \{ domains: \[flow\.example\.org\][^\n]*/, "");
    await h.edit(/\n {4}- \{ name: flow\.example\.org[^\n]*/, "");
    await h.edit(/\n {6}- \{ allow: tcp, port: 443[^\n]*/, "");
    expect(readFileSync(path.join(h.repo, "compose/docker-compose.yml"), "utf8")).toMatch(/^ {2}web:/m);

    const plan = (await h.plan()).plan;
    const prunes = plan.changes.filter((c) => c.prune).map((c) => `${c.phase} ${c.action} ${c.ref.kind} ${c.ref.name}`).sort();
    expect(prunes).toEqual([
      "dns delete cloudflare.record A flow.example.org",
      "firewall-close delete ufw.rule allow in tcp 443 from any to any",
      "prune delete compose.service islandflow/web",
      "prune delete npm.proxyHost flow.example.org",
      // A docker-owned scope keeps its native unit installed (inactive) for a quick cutover: it goes too.
      "prune delete systemd.unit islandflow-web.service",
    ]);
    expect(plan.changes.every((c) => c.prune)).toBe(true);

    const out = await h.apply();
    expect(out.status, out.error).toBe("applied");
    const after = await containers(h);
    expect([...after.keys()].sort()).toEqual(["api", "ingest-options", "workers"]);
    for (const s of ["api", "ingest-options", "workers"]) expect(after.get(s), `${s} untouched`).toBe(before.get(s));
    expect(liveDomains()).toEqual(["api.flow.example.org"]);
    expect(confs()).toHaveLength(confsBefore.length - 1);
    expect(records(h)).toEqual(["A api.flow.example.org"]);
    expect(ufwRules()).not.toMatch(/dport 443 /);
    expect(ufwRules()).toMatch(/dport 80 /);
    expect((await h.plan()).plan.changes).toEqual([]);
  });

  it("while native-owned: its unit is stopped, disabled and its file removed; NPM row, UFW rule and record go", async () => {
    await h.setOwners({ api: "native" });
    const cut = await h.apply();
    expect(cut.status, cut.error).toBe("applied");
    expect(await unitState(h, "islandflow-api.service")).toBe("ActiveState=active LoadState=loaded UnitFileState=enabled");
    const unitFile = path.join(process.env.HOME!, ".config/systemd/user/islandflow-api.service");
    expect(existsSync(unitFile)).toBe(true);
    const before = await containers(h);

    await h.edit(/\n {2}api:\n( {4}.*\n)+/, "\n");
    await h.edit(/\n {4}after: \[api\]/g, "");
    await h.edit(/\n {4}- \{ domains: \[api\.flow\.example\.org\][^\n]*/, "");
    await h.edit(/\n {4}# Left DNS-only on purpose[^\n]*\n {4}- \{ name: api\.flow\.example\.org[^\n]*/, "");
    await h.edit(/\n {6}- \{ allow: tcp, port: 4000[^\n]*/, "");
    await h.edit(/proxyHosts:(?=\nfirewall:)/, "proxyHosts: []");
    await h.edit(/records:(?=\nsecrets:)/, "records: []");
    // The api's secret goes with it (its scope is gone): tack wrote its file, so it is pruned too.
    expect(existsSync(path.join(h.dataRoot, "secrets", "api.env"))).toBe(true);
    await h.edit(/files:\n {4}# The api's[^\n]*\n {4}- \{ source: secrets\/api\.env\.age[^\n]*/, "files: []");
    const out = await h.apply();
    expect(out.status, out.error).toBe("applied");
    expect(existsSync(path.join(h.dataRoot, "secrets", "api.env"))).toBe(false);

    expect(await unitState(h, "islandflow-api.service")).toMatch(/ActiveState=inactive/);
    expect(existsSync(unitFile)).toBe(false);
    expect(liveDomains()).toEqual([]);
    expect(records(h)).toEqual([]);
    expect(ufwRules()).not.toMatch(/dport 4000 /);
    expect(await containers(h)).toEqual(before);
    expect((await h.plan()).plan.changes).toEqual([]);
  });
});
