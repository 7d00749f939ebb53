import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadDesiredState } from "../../desired-state/index.js";
import type { Owner, ResolvedHost } from "../../core/resources.js";
import { edit, tempRepo } from "../helpers/temp-repo.js";

const FACTS = { npmBridgeGateway: "172.18.0.1", npmBridgeSubnet: "172.18.0.0/16" };

async function resolveWithOwners(owners: Record<string, Owner>, facts = FACTS): Promise<ResolvedHost> {
  const repo = await tempRepo();
  for (const [scope, owner] of Object.entries(owners)) {
    await edit(path.join(repo, "tack.yaml"), `  ${scope}:\n    owner: docker`, `  ${scope}:\n    owner: ${owner}`);
  }
  const r = await loadDesiredState(repo, { facts });
  if (!r.resolved) throw new Error(r.findings.map((f) => f.message).join("\n"));
  return r.resolved;
}

describe("resolution: owner → resources", () => {
  const table: {
    owner: Owner;
    unit: { enabled: boolean; active: boolean };
    service: "running" | "removed";
    proxy: { forwardHost: string; forwardPort: number; enabled: boolean; probePath: string };
  }[] = [
    { owner: "docker", unit: { enabled: false, active: false }, service: "running", proxy: { forwardHost: "api", forwardPort: 4000, enabled: true, probePath: "/health" } },
    { owner: "native", unit: { enabled: true, active: true }, service: "removed", proxy: { forwardHost: "172.18.0.1", forwardPort: 4000, enabled: true, probePath: "/health" } },
    { owner: "none", unit: { enabled: false, active: false }, service: "removed", proxy: { forwardHost: "172.18.0.1", forwardPort: 4000, enabled: false, probePath: "/health" } },
  ];
  for (const row of table) {
    it(`api owned by ${row.owner}`, async () => {
      const r = await resolveWithOwners({ api: row.owner });
      const unit = r.resources["systemd.unit"].find((u) => u.name === "islandflow-api.service")!;
      expect(unit).toMatchObject({ present: true, systemdScope: "user", scope: "api", ...row.unit });
      expect(unit.file.content).toMatch(/ExecStart=/);
      const svc = r.resources["compose.service"].find((s) => s.name === "islandflow/api")!;
      expect(svc).toMatchObject({ project: "islandflow", service: "api", state: row.service, env: { ISLANDFLOW_DATA_ROOT: "/var/lib/islandflow" } });
      expect(path.isAbsolute(svc.files[0]!)).toBe(true);
      const ph = r.resources["npm.proxyHost"].find((p) => p.name === "api.flow.example.org")!;
      expect(ph).toMatchObject({ domains: ["api.flow.example.org"], websockets: true, ...row.proxy });
      expect(ph).not.toHaveProperty("certificateId"); // undeclared fields stay unmanaged
      // The declared 4000 rule exists either way; a derived one never duplicates it.
      const rules4000 = r.resources["ufw.rule"].filter((u) => u.port === "4000");
      expect(rules4000).toHaveLength(1);
      expect(rules4000[0]).toMatchObject({ from: "172.18.0.0/16", comment: "tack: npm bridge to native api", derived: false });
      expect(r.scopes.find((s) => s.name === "api")?.owner).toBe(row.owner);
    });
  }

  it("derives the bridge → 3000 rule only while web is native", async () => {
    const docker = await resolveWithOwners({});
    expect(docker.resources["ufw.rule"].some((u) => u.port === "3000")).toBe(false);
    const native = await resolveWithOwners({ web: "native" });
    expect(native.resources["ufw.rule"].find((u) => u.port === "3000")).toMatchObject({
      name: "allow in tcp 3000 from 172.18.0.0/16 to any",
      comment: "tack: derived npm bridge to web",
      derived: true,
    });
  });

  it("overlap scope keeps its per-runtime health and probe path", async () => {
    const r = await resolveWithOwners({ web: "native" });
    const web = r.scopes.find((s) => s.name === "web")!;
    expect(web.handoff).toBe("overlap");
    expect(web.native?.health).toMatchObject({ type: "http", url: "http://127.0.0.1:3000/health", timeoutMs: 60_000 });
    expect(web.docker?.health).toMatchObject({ type: "http", url: "http://127.0.0.1:13000/health" });
    expect(r.scopes.find((s) => s.name === "workers")?.native?.health).toMatchObject({ type: "state", timeoutMs: 30_000 });
  });

  it("renders host-only values symbolically without live facts", async () => {
    const r = await resolveWithOwners({ api: "native" }, {} as typeof FACTS);
    expect(r.resources["npm.proxyHost"].find((p) => p.scope === "api")?.forwardHost).toBe("<npm-bridge gateway>");
    expect(r.resources["ufw.rule"].find((u) => u.port === "4000")?.from).toBe("<npm-bridge subnet>");
  });

  it("marks DNS records with the host and keeps declared fields only", async () => {
    const r = await resolveWithOwners({});
    expect(r.resources["cloudflare.record"]).toEqual([
      expect.objectContaining({ name: "A flow.example.org", fqdn: "flow.example.org", proxied: true, comment: "tack:vps-1", zone: "example.org" }),
      expect.objectContaining({ name: "A api.flow.example.org", proxied: false, acknowledge: ["origin-exposure"] }),
    ]);
    expect(r.resources["cloudflare.record"][0]).not.toHaveProperty("ttl");
    expect(r.cloudflare?.token).toEqual({ env: "CLOUDFLARE_API_TOKEN" });
    expect(r.policy).toMatchObject({ mode: "enforce", maxChangePercent: 30, allowLargeChanges: false, driftIntervalMs: { local: 60_000, dns: 300_000 } });
  });
});

describe("field paths back to file:line:column", () => {
  it("splitFieldPath inverts formatPath, and the resolved host locates a guard's field", async () => {
    const { splitFieldPath } = await import("../../desired-state/index.js");
    expect(splitFieldPath("firewall.ufw.rules[3].port")).toEqual(["firewall", "ufw", "rules", 3, "port"]);
    expect(splitFieldPath("scopes.api.owner")).toEqual(["scopes", "api", "owner"]);
    const r = await resolveWithOwners({});
    const text = (await import("node:fs")).readFileSync(path.join(r.repoRoot, "tack.yaml"), "utf8").split("\n");
    const at = r.locate!("scopes.api.owner");
    expect(at.file).toBe("tack.yaml");
    expect(text[at.line - 1]!.slice(at.column - 1)).toMatch(/^docker/);
  });
});
