import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadDesiredState } from "../../desired-state/index.js";
import type { Owner, ResolvedHost } from "../../core/resources.js";
import { offlinePlan } from "../../engine/offline-plan.js";
import { buildSteps } from "../../engine/steps.js";
import { scopeOrder } from "../../engine/planner.js";
import { edit, tempRepo } from "../helpers/temp-repo.js";

const FACTS = { npmBridgeGateway: "172.18.0.1", npmBridgeSubnet: "172.18.0.0/16" };

async function resolved(repo: string, owners?: Record<string, Owner>): Promise<ResolvedHost> {
  const r = await loadDesiredState(repo, { facts: FACTS, ...(owners ? { owners } : {}) });
  if (!r.resolved) throw new Error(r.findings.map((f) => f.message).join("\n"));
  return r.resolved;
}

const NATIVE = { api: "native", workers: "native", "ingest-options": "native", web: "native" } as const;

describe("planner: phases and order of a cutover", () => {
  it("exclusive scopes stop before they start, per scope in `after` order; overlap retires after the edge", async () => {
    const repo = await tempRepo();
    const base = await resolved(repo);
    const head = await resolved(repo, NATIVE);
    const plan = offlinePlan(head, base, "head");
    const steps = buildSteps(plan, head).map((s) => `${s.phase}${s.scope ? `[${s.scope}]` : ""}${s.kind ? ` ${s.kind}` : ""}`);
    expect(steps).toEqual([
      "firewall-open ufw.rule",
      "runtime-stop[api] compose.service",
      "runtime-start[api] systemd.unit",
      "health[api]",
      "runtime-stop[ingest-options] compose.service",
      "runtime-start[ingest-options] systemd.unit",
      "health[ingest-options]",
      "runtime-start[web] systemd.unit",
      "health[web]",
      "runtime-stop[workers] compose.service",
      "runtime-start[workers] systemd.unit",
      "health[workers]",
      "edge npm.proxyHost",
      "runtime-retire[web] compose.service",
    ]);
    expect(plan.cutovers).toEqual([
      { scope: "api", from: "docker", to: "native", handoff: "exclusive" },
      { scope: "workers", from: "docker", to: "native", handoff: "exclusive" },
      { scope: "ingest-options", from: "docker", to: "native", handoff: "exclusive" },
      { scope: "web", from: "docker", to: "native", handoff: "overlap" },
    ]);
    const edge = plan.changes.filter((c) => c.ref.kind === "npm.proxyHost");
    expect(edge.map((c) => [c.ref.name, c.fields.find((f) => f.field === "forwardHost")?.to])).toEqual([
      ["api.flow.example.org", "172.18.0.1"],
      ["flow.example.org", "172.18.0.1"],
    ]);
    expect(plan.gates.map((g) => `${g.scope}:${g.runtime}:${g.check.type}`)).toEqual(["api:native:http", "workers:native:state", "ingest-options:native:state", "web:native:http"]);
  });

  it("the way back closes the derived firewall rule after the runtimes moved", async () => {
    const repo = await tempRepo();
    const plan = offlinePlan(await resolved(repo), await resolved(repo, NATIVE), "back");
    const ufw = plan.changes.filter((c) => c.ref.kind === "ufw.rule");
    expect(ufw.map((c) => `${c.action} ${c.phase} ${c.ref.name}`)).toEqual(["delete firewall-close allow in tcp 3000 from 172.18.0.0/16 to any"]);
    const retire = plan.changes.filter((c) => c.phase === "runtime-retire").map((c) => c.ref.name);
    expect(retire).toEqual(["islandflow-web.service"]); // overlap: native web stops only after the edge moved back
  });

  it("a converged host plans nothing", async () => {
    const repo = await tempRepo();
    const host = await resolved(repo);
    const plan = offlinePlan(host, host, "same");
    expect(plan.changes).toEqual([]);
    expect(buildSteps(plan, host)).toEqual([]);
  });

  it("orders scopes by `after`, ties by name", async () => {
    const repo = await tempRepo();
    expect(scopeOrder(await resolved(repo))).toEqual(["api", "ingest-options", "web", "workers"]);
  });

  it("observe mode reports but never schedules", async () => {
    const repo = await tempRepo();
    await edit(path.join(repo, "tack.yaml"), "mode: enforce", "mode: observe");
    const head = await resolved(repo, NATIVE);
    const plan = offlinePlan(head, await resolved(repo), "observe");
    expect(plan.changes.length).toBeGreaterThan(0);
    expect(plan.observeOnly).toEqual(["runtime", "edge", "firewall", "dns"]);
    expect(buildSteps(plan, head)).toEqual([]);
    expect(plan.findings.map((f) => f.id)).toContain("observe-mode");
  });

  it("a per-layer override observes only that layer", async () => {
    const repo = await tempRepo();
    await edit(path.join(repo, "tack.yaml"), "  mode: enforce", "  mode: enforce\n  layers: { dns: observe }");
    await edit(path.join(repo, "tack.yaml"), "proxied: false, acknowledge: [origin-exposure] }", "proxied: true }");
    const head = await resolved(repo);
    const plan = offlinePlan(head, undefined, "layers");
    const kinds = new Set(buildSteps(plan, head).flatMap((s) => s.changes.map((c) => c.ref.kind)));
    expect(kinds.has("cloudflare.record")).toBe(false);
    expect(kinds.has("npm.proxyHost")).toBe(true);
  });
});
