import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { ExecaRunner } from "../../core/runner.js";
import type { DesiredProxyHost } from "../../core/resources.js";
import { createNpmDatabase } from "../../sandbox/npm-schema.js";
import { FileProxyHostInventory, NpmProxyHostDriver } from "./npm-driver.js";
import { renderProxyHostConf } from "./render-conf.js";
import { rowToModel, type ProxyHostRow } from "./row.js";
import { planProxyHosts } from "./proxy-host-plan.js";

/** Observe reads a real SQLite file with NPM's schema and the conf files; with the nginx facts given it runs no command. */
function fixture() {
  const dir = mkdtempSync(join(tmpdir(), "tack-npm-"));
  const dataDir = join(dir, "data");
  mkdirSync(join(dataDir, "nginx/proxy_host"), { recursive: true });
  createNpmDatabase(join(dataDir, "database.sqlite"));
  const db = new Database(join(dataDir, "database.sqlite"));
  const insert = db.prepare(
    "INSERT INTO proxy_host (created_on, modified_on, owner_user_id, is_deleted, domain_names, forward_host, forward_port, meta, locations) VALUES ('2026-01-01 00:00:00', '2026-01-01 00:00:00', 1, ?, ?, ?, ?, '{}', '[]')",
  );
  const live = Number(insert.run(0, '["api.flow.example.org"]', "api", 4000).lastInsertRowid);
  const gone = Number(insert.run(1, '["old.flow.example.org"]', "old", 80).lastInsertRowid);
  const other = Number(insert.run(0, '["blog.example.org"]', "ghost", 2368).lastInsertRowid);
  const rows = db.prepare("SELECT * FROM proxy_host").all() as ProxyHostRow[];
  db.close();
  const runner = new ExecaRunner();
  const stateDir = join(dir, "state");
  const driver = new NpmProxyHostDriver({ runner, dataDir, container: "npm", stateDir, nginxVersion: "1.22.1", ipv6: true });
  return { dataDir, stateDir, runner, driver, live, gone, other, rows };
}

function want(domain: string, over: Partial<DesiredProxyHost> = {}): DesiredProxyHost {
  return {
    kind: "npm.proxyHost", name: domain, domains: [domain], forwardScheme: "http", forwardHost: "api", forwardPort: 4000,
    enabled: true, adopt: false, scope: "api", probePath: "/health", ...over,
  };
}

describe("NpmProxyHostDriver.observe (real SQLite, no commands)", () => {
  it("reads live rows only, pairs them by domains, and reports a missing conf as drift", async () => {
    const f = fixture();
    const desired = [want("api.flow.example.org"), want("old.flow.example.org")];
    const actual = await f.driver.observe(desired);
    expect([...actual.keys()]).toEqual(["api.flow.example.org"]);
    const api = actual.get("api.flow.example.org")!;
    expect(api).toMatchObject({ id: f.live, ownership: "unmanaged", conf: undefined, confMatches: false });
    const plan = planProxyHosts(desired, actual);
    expect(plan.map((c) => [c.action, c.ref.name])).toEqual([
      ["update", "api.flow.example.org"],
      ["create", "old.flow.example.org"],
    ]);
    expect(plan[0]!.fields).toEqual([
      { field: "ownership", from: "unmanaged", to: "adopted" },
      { field: "conf", from: "missing", to: "rendered from the row" },
    ]);
    expect(f.runner.history).toEqual([]);
  });

  it("sees a conf NPM rendered as matching, and an owned row leaving the desired state as a delete", async () => {
    const f = fixture();
    const row = rowToModel(f.rows.find((r) => r.id === f.live)!);
    writeFileSync(join(f.dataDir, "nginx/proxy_host", `${f.live}.conf`), renderProxyHostConf(row, { nginxVersion: "1.22.1", ipv6: true })!);
    await new FileProxyHostInventory(join(f.stateDir, "npm-proxy-hosts.json")).save([{ id: f.live, domains: ["api.flow.example.org"], origin: "adopted" }]);
    const actual = await f.driver.observe([want("api.flow.example.org")]);
    expect(actual.get("api.flow.example.org")).toMatchObject({ ownership: "adopted", confMatches: true });
    expect(planProxyHosts([want("api.flow.example.org")], actual)).toEqual([]);
    const none = await f.driver.observe([]);
    expect([...none.keys()]).toEqual(["api.flow.example.org"]);
    expect(planProxyHosts([], none).map((c) => c.action)).toEqual(["delete"]);
  });

  it("apply with no changes touches nothing", async () => {
    const f = fixture();
    await f.driver.apply([]);
    expect(f.runner.history).toEqual([]);
  });
});
