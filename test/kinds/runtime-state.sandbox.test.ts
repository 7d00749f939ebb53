import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ComposeDriver } from "../../kinds/compose-service/compose-driver.js";
import { planServices } from "../../kinds/compose-service/compose-plan.js";
import { planUnits } from "../../kinds/systemd-unit/unit-plan.js";
import { SystemdDriver } from "../../kinds/systemd-unit/systemd-driver.js";
import { sandbox } from "../../sandbox/sandbox-env.js";
import { busyboxUnit, desiredService, desiredUnit, writeComposeProject, writeHealthDir } from "../../sandbox/runtime-fixtures.js";
import { ExecaRunner } from "../../core/runner.js";
import { servicesEvidence, servicesState } from "../../kinds/compose-service/service-state.js";
import { unitsState } from "../../kinds/systemd-unit/unit-state.js";
import { waitHealthy } from "../../engine/health/wait-healthy.js";

const host = sandbox({ parts: ["systemd", "docker"] });
const runner = new ExecaRunner();
const compose = new ComposeDriver({ runner });
const units = new SystemdDriver({ runner, systemdScope: "user", stateDir: join(host.dir, "state-probe"), startSettleMs: 0 });
const file = writeComposeProject(
  join(host.dir, "state-probe-compose"),
  [
    { name: "good", port: 8080, healthcheckPath: "/health" },
    { name: "sick", port: 8080, healthcheckPath: "/missing" },
    { name: "plain", port: 8080 },
  ],
  host.busyboxImage!,
);
const good = desiredService("tacks", "good", file);
const sick = desiredService("tacks", "sick", file);
const plain = desiredService("tacks", "plain", file);
const state = (timeoutMs: number) => ({ type: "state", timeoutMs, intervalMs: 250 }) as const;

afterAll(async () => {
  const all = [good, sick, plain].map((s) => ({ ...s, state: "removed" as const }));
  await compose.apply(planServices(all, await compose.observe(all)));
});

describe("state health checks against real runtimes", () => {
  it("a container with a Docker health check passes only once it is healthy", async () => {
    await compose.apply(planServices([good, sick, plain], await compose.observe([good, sick, plain])));
    const ev = await waitHealthy(state(30_000), { state: servicesState(compose, [good]) });
    expect(ev.healthy).toBe(true);
    expect(ev.last.detail).toBe("tacks/good running");
    const seen = (await compose.observe([good])).get(good.name)!;
    expect(seen.containers[0]!.health).toBe("healthy");
  });

  it("a container without a health check passes when running", async () => {
    const ev = await waitHealthy(state(10_000), { state: servicesState(compose, [plain]) });
    expect(ev).toMatchObject({ healthy: true, attempts: 1 });
  });

  it("an unhealthy container never passes; the evidence names its status", async () => {
    const ev = await waitHealthy(state(5_000), { state: servicesState(compose, [sick]) });
    expect(ev.healthy).toBe(false);
    expect(ev.last.detail).toMatch(/tacks\/sick .* is running \(Up .*\((unhealthy|health: starting)\)\)/);
    const evidence = await servicesEvidence(compose, [sick]);
    expect(evidence.state[0]).toMatch(/unhealthy|starting/);
  });

  it("a unit passes when active and fails with its state otherwise", async () => {
    const www = writeHealthDir(join(host.dir, "state-probe-www"), "ok\n");
    const u = desiredUnit("tack-state.service", busyboxUnit({ description: "state", port: 18401, dir: www }));
    expect((await waitHealthy(state(500), { state: unitsState(units, [u.name]) })).last.detail).toBe("tack-state.service is inactive/dead");
    await units.apply(planUnits([u], await units.observe([u])));
    expect((await waitHealthy(state(5_000), { state: unitsState(units, [u.name]) })).healthy).toBe(true);
    await runner.run("systemctl", ["--user", "stop", u.name], { mutates: true });
  });
});
