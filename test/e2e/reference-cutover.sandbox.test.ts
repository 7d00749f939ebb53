import { existsSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../cli/program.js";
import { requestFromNpm, npmBridge } from "../../sandbox/fixtures.js";
import { islandflowHost, type IslandflowHost } from "../../sandbox/islandflow-host.js";
import { sandbox } from "../../sandbox/sandbox-env.js";

const ALL = ["api", "workers", "ingest-options", "web"] as const;
const owners = (o: "native" | "docker") => Object.fromEntries(ALL.map((s) => [s, o]));

async function composeServicesRunning(h: IslandflowHost): Promise<string[]> {
  const r = await h.runner.run("docker", ["ps", "--filter", "label=com.docker.compose.project=islandflow", "--format", "{{.Label \"com.docker.compose.service\"}}"]);
  return r.stdout.split("\n").filter(Boolean).sort();
}

/** Active islandflow units of the run's manager: the user manager, or the system manager in system scope. */
async function activeUnits(h: IslandflowHost): Promise<string[]> {
  const scope = h.systemdScope === "user" ? ["--user"] : [];
  const r = await h.runner.run("systemctl", [...scope, "list-units", "--state=active", "--no-legend", "--plain", "islandflow-*"]);
  return r.stdout.split("\n").map((l) => l.split(/\s+/)[0]!).filter(Boolean).sort();
}

const sb = sandbox({ parts: ["systemd", "docker", "ufw", "npm"] });

describe(`the reference cutover, end to end on the sandbox host (Compose ${sb.composeFlavor}, ${sb.systemdScope} units)`, () => {
  let h: IslandflowHost;
  beforeAll(async () => {
    h = await islandflowHost();
  });
  afterAll(async () => {
    await h?.close();
  });

  it("converges the Docker-owned baseline", async () => {
    const out = await h.apply();
    expect(out.status, out.error).toBe("applied");
    expect(await composeServicesRunning(h)).toEqual(["api", "ingest-options", "web", "workers"]);
    expect(await activeUnits(h)).toEqual([]);
    const api = await requestFromNpm({ host: "api.flow.example.org", path: "/health" });
    expect(api.body.trim()).toBe("islandflow api docker");
    const web = await requestFromNpm({ host: "flow.example.org", path: "/health" });
    expect(web.body.trim()).toBe("islandflow web docker");
    expect((await h.plan()).plan.changes).toEqual([]);
  });

  it("cuts every scope over to native: NPM via the bridge gateway, UFW from the bridge, api DNS-only", async () => {
    await h.setOwners(owners("native"));
    const out = await h.apply();
    expect(out.status, out.error).toBe("applied");
    expect(out.cutovers.map((c) => `${c.scope}:${c.from}->${c.to}`).sort()).toEqual([
      "api:docker->native",
      "ingest-options:docker->native",
      "web:docker->native",
      "workers:docker->native",
    ]);
    expect(await composeServicesRunning(h)).toEqual([]);
    expect(await activeUnits(h)).toEqual([
      "islandflow-api.service",
      "islandflow-ingest-options.service",
      "islandflow-web.service",
      "islandflow-workers.service",
    ]);
    // Where the units live says which manager runs them: /etc/systemd/system is the usual production setup.
    const unitDir = h.systemdScope === "system" ? "/etc/systemd/system" : path.join(process.env.HOME!, ".config/systemd/user");
    expect(existsSync(path.join(unitDir, "islandflow-api.service"))).toBe(true);
    const { gateway, subnet } = await npmBridge();
    const api = await requestFromNpm({ host: "api.flow.example.org", path: "/health" });
    expect(api.body.trim()).toBe("islandflow api native");
    const web = await requestFromNpm({ host: "flow.example.org", path: "/health" });
    expect(web.body.trim()).toBe("islandflow web native");
    const confs = await h.runner.run("sh", ["-c", `cat ${process.env.TACK_SANDBOX_NPM_DATA}/nginx/proxy_host/*.conf`]);
    expect(confs.stdout).toMatch(new RegExp(`set \\$server\\s+"${gateway.replace(/\./g, "\\.")}";`));
    expect(confs.stdout).not.toMatch(/host\.docker\.internal/);
    const ufw = await h.runner.run("ufw", ["show", "added"]);
    expect(ufw.stdout).toMatch(new RegExp(`allow from ${subnet.replace(/\./g, "\\.")} to any port 4000 proto tcp`));
    expect(ufw.stdout).toMatch(new RegExp(`allow from ${subnet.replace(/\./g, "\\.")} to any port 3000 proto tcp`));
    const records = h.cf.records("example.org");
    expect(records.find((r) => r.name === "api.flow.example.org")).toMatchObject({ proxied: false });
    expect(records.find((r) => r.name === "flow.example.org")).toMatchObject({ proxied: true });
    expect((await h.plan()).plan.changes).toEqual([]);
  });

  it("goes back to Docker, and the derived bridge → 3000 rule closes again", async () => {
    await h.setOwners(owners("docker"));
    const out = await h.apply();
    expect(out.status, out.error).toBe("applied");
    expect(await composeServicesRunning(h)).toEqual(["api", "ingest-options", "web", "workers"]);
    expect(await activeUnits(h)).toEqual([]);
    expect((await requestFromNpm({ host: "api.flow.example.org", path: "/health" })).body.trim()).toBe("islandflow api docker");
    expect((await requestFromNpm({ host: "flow.example.org", path: "/health" })).body.trim()).toBe("islandflow web docker");
    const ufw = await h.runner.run("ufw", ["show", "added"]);
    expect(ufw.stdout).not.toMatch(/port 3000/);
    expect(ufw.stdout).toMatch(/port 4000/); // declared: kept while Docker owns api
    expect((await h.plan()).plan.changes).toEqual([]);
  });

  it("a saved plan is refused once the host changed; a hand-stopped container is drift that apply heals", async () => {
    const planFile = path.join(h.stateDir, "saved-plan.json");
    const out: string[] = [];
    const o = { out: (l: string) => out.push(l), err: (l: string) => out.push(l) };
    expect(await runCli(["plan", h.repo, "--state-dir", h.stateDir, "--out", planFile, "--detailed-exitcode"], o), out.join("\n")).toBe(0);
    const id = (await h.runner.run("docker", ["ps", "-q", "--filter", "label=com.docker.compose.service=workers"])).stdout.trim();
    await h.runner.run("docker", ["stop", "-t", "1", id]);
    expect(await runCli(["apply", planFile, "--yes", "--state-dir", h.stateDir], o)).toBe(1);
    expect(out.join("\n")).toMatch(/the saved plan is stale: the host changed since it was made/);
    expect(await runCli(["plan", h.repo, "--state-dir", h.stateDir, "--detailed-exitcode"], o)).toBe(2);
    expect(await runCli(["apply", h.repo, "--yes", "--state-dir", h.stateDir], o)).toBe(0);
    expect(await composeServicesRunning(h)).toContain("workers");
  });

  it("rolls back by itself when a native unit never gets healthy", async () => {
    // The native api listens on the wrong port: its /health gate on :4000 can never pass.
    await h.edit("Environment=API_PORT=4000", "Environment=API_PORT=4999", "units/islandflow-api.service");
    await h.edit('health: { http: "http://127.0.0.1:4000/health", timeout: 60s }', 'health: { http: "http://127.0.0.1:4000/health", timeout: 6s }');
    await h.setOwners({ api: "native" });
    const out = await h.apply();
    expect(out.status).toBe("rolled-back");
    expect(out.error).toMatch(/api on native .* not healthy after/);
    expect(await composeServicesRunning(h)).toContain("api");
    expect(await activeUnits(h)).not.toContain("islandflow-api.service");
    expect((await requestFromNpm({ host: "api.flow.example.org", path: "/health" })).body.trim()).toBe("islandflow api docker");
    const run = h.journal.run(out.runId!);
    expect(run?.status).toBe("rolled-back");
    expect(h.journal.revision(out.revision)?.status).toBe("failed");
  });
});
