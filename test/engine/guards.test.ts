import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadDesiredState } from "../../desired-state/index.js";
import type { Owner, ResolvedHost } from "../../core/resources.js";
import { cidrContains } from "../../engine/guards.js";
import { offlinePlan } from "../../engine/offline-plan.js";
import { blockingFindings } from "../../engine/plan.js";
import { edit, tempRepo } from "../helpers/temp-repo.js";

const FACTS = { npmBridgeGateway: "172.18.0.1", npmBridgeSubnet: "172.18.0.0/16" };

async function resolved(repo: string, owners?: Record<string, Owner>): Promise<ResolvedHost> {
  const r = await loadDesiredState(repo, { facts: FACTS, ...(owners ? { owners } : {}) });
  if (!r.resolved) throw new Error(r.findings.map((f) => f.message).join("\n"));
  return r.resolved;
}

const ids = (host: ResolvedHost, base?: ResolvedHost) => offlinePlan(host, base, "r").findings.map((f) => `${f.severity}:${f.id}`);

describe("guards", () => {
  it("the example has no blocking finding, and its origin exposure is acknowledged", async () => {
    const repo = await tempRepo();
    expect(ids(await resolved(repo))).toEqual([]);
  });

  it("origin exposure warns unless acknowledged", async () => {
    const repo = await tempRepo();
    await edit(path.join(repo, "tack.yaml"), ", acknowledge: [origin-exposure] }", " }");
    const plan = offlinePlan(await resolved(repo), undefined, "r");
    const f = plan.findings.find((x) => x.id === "origin-exposure");
    expect(f?.severity).toBe("warning");
    expect(f?.message).toMatch(/api\.flow\.example\.org is DNS-only and points at 203\.0\.113\.10, the origin of proxied flow\.example\.org/);
    expect(blockingFindings(plan)).toEqual([]);
  });

  it("a native scope reached through NPM without a UFW path from the bridge blocks (the reference's outage)", async () => {
    const repo = await tempRepo();
    const y = path.join(repo, "tack.yaml");
    await edit(y, "  ufw:\n    rules:", "  ufw:\n    deriveEdgeRules: false\n    rules:");
    const plan = offlinePlan(await resolved(repo, { web: "native" }), await resolved(repo), "r");
    const f = blockingFindings(plan);
    expect(f.map((x) => x.id)).toEqual(["no-edge-path"]);
    expect(f[0]?.message).toMatch(/flow\.example\.org → native web on port 3000, but no UFW rule allows the NPM bridge to reach 3000/);
    // api's 4000 is declared: no finding for it even when native.
    expect(blockingFindings(offlinePlan(await resolved(repo, { api: "native" }), await resolved(repo), "r"))).toEqual([]);
  });

  it("removing the SSH rule while incoming is denied is refused, naming the rule", async () => {
    const repo = await tempRepo();
    const base = await resolved(repo);
    await edit(path.join(repo, "tack.yaml"), "      - { allow: tcp, port: 22, comment: ssh }\n", "");
    const plan = offlinePlan(await resolved(repo), base, "r");
    const f = blockingFindings(plan);
    expect(f.map((x) => x.id)).toContain("ssh-lockout");
    expect(f.find((x) => x.id === "ssh-lockout")?.message).toMatch(/22/);
  });

  it("blast radius: more than maxChangePercent of ≥ 10 existing records blocks, unless allowed", async () => {
    const repo = await tempRepo();
    const y = path.join(repo, "tack.yaml");
    const extra = Array.from({ length: 10 }, (_, i) => `    - { name: h${i}.example.org, type: A, content: 198.51.100.${i} }`).join("\n");
    await edit(y, "  records:\n", `  records:\n${extra}\n`);
    const base = await resolved(repo);
    for (let i = 0; i < 4; i++) await edit(y, `content: 198.51.100.${i} }`, `content: 198.51.100.${100 + i} }`);
    const plan = offlinePlan(await resolved(repo), base, "r");
    const f = blockingFindings(plan);
    expect(f.map((x) => x.id)).toEqual(["blast-radius"]);
    expect(f[0]?.message).toMatch(/dns layer: 4 of 12 existing cloudflare\.record resources would be updated or deleted \(33% > maxChangePercent 30%\)/);
    await edit(y, "safety: { maxChangePercent: 30 }", "safety: { maxChangePercent: 30, allowLargeChanges: true }");
    expect(blockingFindings(offlinePlan(await resolved(repo), base, "r"))).toEqual([]);
  });

  it("blast radius ignores layers under the floor of 10 and runtime owner changes", async () => {
    const repo = await tempRepo();
    const plan = offlinePlan(await resolved(repo, { api: "native", workers: "native", "ingest-options": "native", web: "native" }), await resolved(repo), "r");
    expect(blockingFindings(plan)).toEqual([]);
  });

  it("a proxied hostname's native origin port open to the world warns", async () => {
    const repo = await tempRepo();
    await edit(path.join(repo, "tack.yaml"), "      - { allow: tcp, port: 80, comment: http }", "      - { allow: tcp, port: 80, comment: http }\n      - { allow: tcp, port: 3000, comment: oops }");
    const plan = offlinePlan(await resolved(repo, { web: "native" }), undefined, "r");
    expect(plan.findings.find((f) => f.id === "origin-port-open")?.message).toMatch(/flow\.example\.org is proxied by Cloudflare, but its origin port 3000 is open to the world/);
  });

  it("a compose port published on every interface warns that it bypasses UFW; loopback does not", async () => {
    const repo = await tempRepo();
    expect(offlinePlan(await resolved(repo), undefined, "r").findings.filter((f) => f.id === "docker-bypasses-ufw")).toEqual([]);
    await edit(path.join(repo, "compose/docker-compose.yml"), 'ports: ["127.0.0.1:13000:3000"]', 'ports: ["13000:3000", { target: 3001, published: 13001, host_ip: "0.0.0.0" }]');
    const msgs = offlinePlan(await resolved(repo), undefined, "r").findings.filter((f) => f.id === "docker-bypasses-ufw").map((f) => f.message);
    expect(msgs).toEqual([
      expect.stringMatching(/^compose service web publishes 0\.0\.0\.0:13000 → 3000: Docker's published ports bypass UFW/),
      expect.stringMatching(/^compose service web publishes 0\.0\.0\.0:13001 → 3001/),
    ]);
    // Retired (owner native): nothing published, nothing to warn about.
    expect(offlinePlan(await resolved(repo, { web: "native" }), undefined, "r").findings.some((f) => f.id === "docker-bypasses-ufw")).toBe(false);
  });

  it("cidrContains", () => {
    expect(cidrContains("172.16.0.0/12", "172.18.0.0/16")).toBe(true);
    expect(cidrContains("172.18.0.0/16", "172.18.0.0/16")).toBe(true);
    expect(cidrContains("172.18.0.0/16", "172.16.0.0/12")).toBe(false);
    expect(cidrContains("10.0.0.0/8", "172.18.0.0/16")).toBe(false);
    expect(cidrContains("0.0.0.0/0", "172.18.0.1")).toBe(true);
    expect(cidrContains("<npm-bridge subnet>", "172.18.0.0/16")).toBe(false);
  });
});
