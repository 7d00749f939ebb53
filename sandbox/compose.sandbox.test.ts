import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ExecaRunner } from "../core/runner.js";
import { composeFile } from "./fixtures.js";
import { sandbox } from "./sandbox-env.js";

describe("sandbox host: Docker Compose", () => {
  const host = sandbox({ parts: ["docker", "npm"] });
  const run = new ExecaRunner({ defaultTimeoutMs: 120_000 });
  const [composeBin = "docker-compose", ...composeArgs] = host.compose ?? [];
  const dir = join(host.dir, "compose-test");
  const file = join(dir, "docker-compose.yml");
  const compose = (...args: string[]) => run.run(composeBin, [...composeArgs, "-p", "sbxcompose", "-f", file, ...args], { mutates: true });

  afterAll(async () => {
    await compose("down", "--timeout", "1").catch(() => undefined);
  });

  it("starts a service that becomes healthy and answers on its published port", async () => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, composeFile({ services: [{ name: "api", port: 4000, publish: "127.0.0.1:14102:4000", body: "compose-ok" }], network: host.npmNetwork }));
    await compose("up", "-d");

    const ps = await run.run("docker", ["ps", "-a", "--filter", "label=com.docker.compose.project=sbxcompose", "--format", "{{json .}}"]);
    const rows = ps.stdout.trim().split("\n").map((l) => JSON.parse(l) as { Names: string; Labels: string });
    expect(rows).toHaveLength(1);
    expect(rows[0]?.Labels).toContain("com.docker.compose.service=api");

    let health = "";
    for (let i = 0; i < 100 && health !== "healthy"; i++) {
      health = (await run.run("docker", ["inspect", "-f", "{{.State.Health.Status}}", rows[0]?.Names ?? ""])).stdout.trim();
      if (health !== "healthy") await new Promise((r) => setTimeout(r, 200));
    }
    expect(health).toBe("healthy");

    const res = await fetch("http://127.0.0.1:14102/health", { signal: AbortSignal.timeout(3_000) });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("compose-ok\n");

    const net = await run.run("docker", ["inspect", "-f", "{{json .NetworkSettings.Networks}}", rows[0]?.Names ?? ""]);
    expect(Object.keys(JSON.parse(net.stdout) as object)).toEqual([host.npmNetwork]);
  });
});
