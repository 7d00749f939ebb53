import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ComposeDriver } from "../compose/compose-driver.js";
import { SystemdDriver } from "../units/systemd-driver.js";
import { sandbox } from "../test/sandbox/sandbox-env.js";
import { busyboxUnit, desiredService, desiredUnit, httpOk, mutationsSince, writeComposeProject, writeHealthDir } from "../test/runtime/runtime-fixtures.js";
import { PHASES } from "./core/changes.js";
import { ApplyError } from "./core/errors.js";
import type { ResolvedScope } from "./core/resources.js";
import { ExecaRunner } from "./core/runner.js";
import { handoffScope, type HandoffOptions } from "./handoff.js";
import { HealthTimeoutError } from "./health/wait-healthy.js";

const host = sandbox({ parts: ["systemd", "docker"] });
const runner = new ExecaRunner();
const units = new SystemdDriver({ runner, systemdScope: "user", stateDir: join(host.dir, "handoff-state"), startSettleMs: 200 });
const compose = new ComposeDriver({ runner });
const www = writeHealthDir(join(host.dir, "handoff-www"), "native ok\n");
const file = writeComposeProject(join(host.dir, "handoff-compose"), [{ name: "api", port: 8080, publish: 18302 }], host.busyboxImage!);

const NATIVE = "http://127.0.0.1:18301/health";
const DOCKER = "http://127.0.0.1:18302/health";
const unit = desiredUnit("tack-api.service", busyboxUnit({ description: "api", port: 18301, dir: www }));
const service = desiredService("tackh", "api", file);

function scope(over: Partial<ResolvedScope> = {}): ResolvedScope {
  return {
    name: "api",
    owner: "native",
    handoff: "exclusive",
    after: [],
    native: { resources: [unit.name], port: 18301, systemdScope: "user", health: { type: "http", url: NATIVE, timeoutMs: 30_000, intervalMs: 100 } },
    docker: { resources: [service.name], port: 18302, health: { type: "http", url: DOCKER, timeoutMs: 30_000, intervalMs: 100 } },
    ...over,
  };
}

const base = (over: Partial<HandoffOptions>): HandoffOptions => ({
  scope: scope(),
  from: "none",
  to: "native",
  mode: "exclusive",
  units,
  compose,
  desired: { units: [unit], services: [service] },
  ...over,
});

/** Polls both runtimes every ~50 ms; counts samples where both served the scope. */
function sampler() {
  const samples: { native: boolean; docker: boolean }[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const [native, docker] = await Promise.all([httpOk(NATIVE, 200), httpOk(DOCKER, 200)]);
      samples.push({ native, docker });
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    samples,
    stop: async () => {
      running = false;
      await done;
      return samples;
    },
  };
}

/** The converged state of the scope with `owner`: a second observe+plan+apply must change nothing. */
async function mutationsToConverge(owner: "native" | "docker"): Promise<string[]> {
  const mark = runner.history.length;
  const wantUnit = { ...unit, enabled: owner === "native", active: owner === "native" };
  const wantSvc = { ...service, state: owner === "docker" ? ("running" as const) : ("removed" as const) };
  const uc = units.plan([wantUnit], await units.observe([wantUnit]));
  const sc = compose.plan([wantSvc], await compose.observe([wantSvc]));
  for (const phase of PHASES) {
    const ub = uc.filter((c) => c.phase === phase);
    if (ub.length) await units.apply(ub);
    const sb = sc.filter((c) => c.phase === phase);
    if (sb.length) await compose.apply(sb);
  }
  return mutationsSince(runner, mark);
}

afterAll(async () => {
  await runner.run("systemctl", ["--user", "stop", unit.name], { okExitCodes: [0, 1, 5] });
  await compose.apply(compose.plan([{ ...service, state: "removed" }], await compose.observe([{ ...service, state: "removed" }]))).catch(() => undefined);
});

describe("handoffScope on a real systemd --user and dockerd", () => {
  it("starts the native owner from nothing", async () => {
    const r = await handoffScope(base({ from: "none", to: "native" }));
    expect(r.steps).toEqual(["start native", "health native"]);
    expect(r.health?.healthy).toBe(true);
    expect(await mutationsToConverge("native")).toEqual([]);
  });

  it("exclusive native → docker: never both serving, old owner stopped and disabled", async () => {
    const s = sampler();
    const r = await handoffScope(base({ from: "native", to: "docker" }));
    const samples = await s.stop();
    expect(r.steps).toEqual(["retire native", "start docker", "health docker"]);
    expect(samples.length).toBeGreaterThan(10);
    expect(samples.filter((x) => x.native && x.docker)).toEqual([]);
    expect(samples[0]).toEqual({ native: true, docker: false });
    expect(await httpOk(DOCKER)).toBe(true);
    const u = (await units.observe([unit])).get(unit.name)!;
    expect(u).toMatchObject({ activeState: "inactive", unitFileState: "disabled" });
    expect(await mutationsToConverge("docker")).toEqual([]);
  });

  it("exclusive docker → native: never both serving, containers removed", async () => {
    const s = sampler();
    const r = await handoffScope(base({ from: "docker", to: "native" }));
    const samples = await s.stop();
    expect(r.steps).toEqual(["retire docker", "start native", "health native"]);
    expect(samples.filter((x) => x.native && x.docker)).toEqual([]);
    expect(samples[0]).toEqual({ native: false, docker: true });
    expect(samples.at(-1)).toEqual({ native: true, docker: false });
    expect((await compose.observe([service])).get(service.name)!.containers).toEqual([]);
    expect(await mutationsToConverge("native")).toEqual([]);
  });

  it("overlap native → docker: both serve when the edge switches, then the old owner retires", async () => {
    let atSwitch: { native: boolean; docker: boolean } | undefined;
    const r = await handoffScope(
      base({
        from: "native",
        to: "docker",
        mode: "overlap",
        switchEdge: async () => {
          atSwitch = { native: await httpOk(NATIVE), docker: await httpOk(DOCKER) };
        },
      }),
    );
    expect(r.steps).toEqual(["start docker", "health docker", "switch edge", "retire native"]);
    expect(atSwitch).toEqual({ native: true, docker: true });
    expect(await httpOk(NATIVE)).toBe(false);
    expect(await mutationsToConverge("docker")).toEqual([]);
  });

  it("a health check that never passes: ApplyError with the evidence", async () => {
    const never = scope({
      native: { resources: [unit.name], systemdScope: "user", health: { type: "http", url: "http://127.0.0.1:18309/health", timeoutMs: 1_500, intervalMs: 200 } },
    });
    const err = await handoffScope(base({ scope: never, from: "docker", to: "native" })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplyError);
    const e = err as ApplyError;
    expect(e.phase).toBe("health");
    expect(e.ref).toEqual({ kind: "systemd.unit", name: unit.name });
    expect(e.cause).toBeInstanceOf(HealthTimeoutError);
    const cause = e.cause as HealthTimeoutError;
    expect(cause.evidence.healthy).toBe(false);
    expect(cause.evidence.attempts).toBeGreaterThanOrEqual(3);
    expect(cause.evidence.last.detail).toMatch(/ECONNREFUSED/);
    expect(cause.state).toEqual([`${unit.name} is active/running`]);
    expect(cause.logs.length).toBeGreaterThan(0);
    expect(e.message).toMatch(/scope api on native \(GET http:\/\/127.0.0.1:18309\/health\) not healthy after \d+ ms/);
    expect(e.applied.map((r) => r.name)).toEqual([service.name, unit.name]);
  });

  it("a state check: the container's own state gates docker", async () => {
    const byState = scope({ docker: { resources: [service.name], health: { type: "state", timeoutMs: 20_000, intervalMs: 200 } } });
    const r = await handoffScope(base({ scope: byState, from: "native", to: "docker" }));
    expect(r.health).toMatchObject({ healthy: true, last: { detail: "tackh/api running" } });
    expect(await mutationsToConverge("docker")).toEqual([]);
  });
});
