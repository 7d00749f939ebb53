import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { ResolvedHost } from "../../core/resources.js";
import { loadDesiredState } from "../../desired-state/index.js";
import { offlinePlan } from "../../engine/offline-plan.js";
import { tempRepo } from "../helpers/temp-repo.js";

/** Prunes in pull request plans: a scope removed from the repo shows every resource that goes, as destructive. */

const FACTS = { npmBridgeGateway: "172.18.0.1", npmBridgeSubnet: "172.18.0.0/16" };

async function resolved(repo: string): Promise<ResolvedHost> {
  const r = await loadDesiredState(repo, { facts: FACTS });
  if (!r.resolved) throw new Error(r.findings.map((f) => `${f.location?.line}: ${f.message}`).join("\n"));
  return r.resolved;
}

async function withoutWeb(repo: string, extra = ""): Promise<void> {
  const y = path.join(repo, "tack.yaml");
  let s = await readFile(y, "utf8");
  s = s.replace(/\n {2}web:\n( {4}.*\n| {6}.*\n)+/, "\n");
  s = s.replace(/\n {4}- \{ domains: \[flow\.example\.org\][^\n]*/, "");
  s = s.replace(/\n {4}- \{ name: flow\.example\.org[^\n]*/, "");
  s = s.replace(/\n {6}- \{ allow: tcp, port: 443[^\n]*/, "");
  s = s.replace("policy:\n", `policy:\n${extra}`);
  await writeFile(y, s);
}

describe("prune in plans", () => {
  it("a removed scope's unit, compose service, proxy host, and a removed rule and record are destructive prunes", async () => {
    const repo = await tempRepo();
    const base = await resolved(repo);
    await withoutWeb(repo);
    const plan = offlinePlan(await resolved(repo), base, "head");
    const prunes = plan.changes.filter((c) => c.prune);
    expect(prunes.map((c) => `${c.ref.kind} ${c.ref.name}`).sort()).toEqual([
      "cloudflare.record A flow.example.org",
      "compose.service islandflow/web",
      "npm.proxyHost flow.example.org",
      "systemd.unit islandflow-web.service",
      "ufw.rule allow in tcp 443 from any to any",
    ]);
    expect(prunes.every((c) => c.action === "delete" && c.risk === "destructive")).toBe(true);
    expect(plan.changes.filter((c) => !c.prune)).toEqual([]);
  });

  it("policy.prune: false reports them instead (a finding), per layer too", async () => {
    const repo = await tempRepo();
    const base = await resolved(repo);
    await withoutWeb(repo, "  prune: { dns: false, runtime: false }\n");
    const plan = offlinePlan(await resolved(repo), base, "head");
    expect(plan.changes.map((c) => c.ref.kind).sort()).toEqual(["npm.proxyHost", "ufw.rule"]);
    const f = plan.findings.find((x) => x.id === "prune-disabled");
    expect(f?.message).toMatch(/not pruned \(policy\.prune\): .*cloudflare\.record A flow\.example\.org/);
    expect(f?.message).toMatch(/compose\.service islandflow\/web/);
    expect(f?.location?.file).toBe("tack.yaml");
  });
});
