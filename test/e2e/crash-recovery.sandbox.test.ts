import { execa } from "execa";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestFromNpm } from "../../sandbox/fixtures.js";
import { islandflowHost, type IslandflowHost } from "../../sandbox/islandflow-host.js";

const TACK = path.resolve(import.meta.dirname, "../../scripts/tack-from-source.js");

/** `tack apply` as its own process, so a SIGKILL is a real crash. */
function tackApply(h: IslandflowHost, env: Record<string, string> = {}) {
  return execa("node", [TACK, "apply", "--yes", "--state-dir", h.stateDir, h.repo], { reject: false, env: { ...process.env, ...env }, all: true });
}

async function servingRuntimes(h: IslandflowHost, scope: "api" | "web"): Promise<string[]> {
  const out: string[] = [];
  const unit = await h.runner.run("systemctl", ["--user", "is-active", `islandflow-${scope}.service`], { okExitCodes: [0, 3, 4] });
  if (unit.stdout.trim() === "active") out.push("native");
  const ps = await h.runner.run("docker", ["ps", "--filter", `label=com.docker.compose.service=${scope}`, "--format", "{{.Names}}"]);
  if (ps.stdout.trim()) out.push("docker");
  return out;
}

// Phases the docker → native cutover of api (exclusive) and web (overlap), plus a DNS flip, goes through.
const PHASES = ["firewall-open", "runtime-stop", "runtime-start", "health", "edge", "dns", "runtime-retire"] as const;

describe("killing tack at each phase never leaves a half-switched host after the next run", () => {
  let h: IslandflowHost;
  beforeAll(async () => {
    h = await islandflowHost();
    const base = await tackApply(h);
    expect(base.exitCode, base.all).toBe(0);
  });
  afterAll(async () => {
    await h?.close();
  });

  for (const phase of PHASES) {
    it(`SIGKILL before ${phase}`, async () => {
      await h.setOwners({ api: "native", web: "native" });
      await h.edit("proxied: false, acknowledge: [origin-exposure] }", "proxied: true }");
      const crashed = await tackApply(h, { TACK_FAULT_KILL_BEFORE_PHASE: phase });
      expect(crashed.signal, crashed.all).toBe("SIGKILL");

      const next = await tackApply(h);
      expect(next.exitCode, next.all).toBe(0);
      expect(next.all).toMatch(/had been interrupted: the host was rolled back/);
      // Fully on the new revision: one owner per scope, the edge on native, nothing left to do.
      expect(await servingRuntimes(h, "api")).toEqual(["native"]);
      expect(await servingRuntimes(h, "web")).toEqual(["native"]);
      expect((await requestFromNpm({ host: "api.flow.example.org", path: "/health" })).body.trim()).toBe("islandflow api native");
      expect((await requestFromNpm({ host: "flow.example.org", path: "/health" })).body.trim()).toBe("islandflow web native");
      expect(h.cf.records("example.org").find((r) => r.name === "api.flow.example.org")?.proxied).toBe(true);
      expect((await h.plan()).plan.changes).toEqual([]);

      // Back to the Docker baseline for the next phase.
      await h.setOwners({ api: "docker", web: "docker" });
      await h.edit("proxied: true }", "proxied: false, acknowledge: [origin-exposure] }");
      const back = await tackApply(h);
      expect(back.exitCode, back.all).toBe(0);
      expect(await servingRuntimes(h, "api")).toEqual(["docker"]);
    });
  }
});
