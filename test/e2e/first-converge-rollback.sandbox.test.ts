import { readdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { islandflowHost, type IslandflowHost } from "../../sandbox/islandflow-host.js";
import { sandbox } from "../../sandbox/sandbox-env.js";

/**
 * The first apply on a host whose edge probe fails: the run rolls back to the owners seen before it (none), and
 * NPM is left as it was: no proxy_host row at all (not even a soft-deleted or disabled one), no conf.
 */
describe("a first converge that fails at the edge leaves NPM as it was", () => {
  const data = sandbox({ parts: ["npm"] }).npmData!;
  let h: IslandflowHost;
  beforeAll(async () => {
    h = await islandflowHost();
  });
  afterAll(async () => {
    await h?.close();
  });

  it("rolls back with no row and no conf left, and NPM's id counter where it was", async () => {
    // busybox httpd answers 404 for a path it does not serve: the probe of api fails after the reload.
    await h.edit("{ domains: [api.flow.example.org], scope: api, websockets: true }", "{ domains: [api.flow.example.org], scope: api, websockets: true, probePath: /not-served }");
    const out = await h.apply();
    expect(out.status, out.rollbackError).toBe("rolled-back");
    expect(out.error).toMatch(/probe through NPM failed after the switch.*GET \/not-served with Host api\.flow\.example\.org.*HTTP 404/s);
    const db = new Database(path.join(data, "database.sqlite"), { readonly: true });
    try {
      expect(db.prepare("SELECT id, domain_names, enabled, is_deleted FROM proxy_host").all()).toEqual([]);
      const counter = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'proxy_host'").get() as { seq: number } | undefined;
      expect(counter?.seq ?? 0).toBe(0);
    } finally {
      db.close();
    }
    expect(readdirSync(path.join(data, "nginx/proxy_host")).filter((f) => f.endsWith(".conf"))).toEqual([]);
    // The rollback plan itself had nothing for NPM to create.
    const rollbackPlans = h.events.filter((e) => e.type === "plan" && e.purpose === "rollback");
    expect(rollbackPlans).toHaveLength(1);
    const plan = rollbackPlans[0]!.type === "plan" ? rollbackPlans[0]!.plan : undefined;
    expect(plan!.changes.filter((c) => c.ref.kind === "npm.proxyHost")).toEqual([]);
  });
});
