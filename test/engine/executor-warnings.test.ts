import { describe, expect, it } from "vitest";
import type { AnyLiveDriver, DriversByKind } from "../../core/kind.js";
import { ExecaRunner } from "../../core/runner.js";
import { loadDesiredState } from "../../desired-state/index.js";
import { executeSteps, type ExecEvent } from "../../engine/executor.js";
import { offlinePlan } from "../../engine/offline-plan.js";
import { buildSteps } from "../../engine/steps.js";
import { KINDS } from "../../kinds/index.js";
import { tempRepo } from "../helpers/temp-repo.js";

/**
 * A step whose driver applied its changes but could not verify them (the NPM edge with no way to probe) is done,
 * not failed: its warnings reach the step's detail and event. The drivers here record calls; the plan is real.
 */
describe("executeSteps: warnings of an apply that went through", () => {
  it("puts a driver's warnings in the step-done detail, and runs on", async () => {
    const repo = await tempRepo();
    const r = await loadDesiredState(repo, { facts: { npmBridgeGateway: "172.18.0.1", npmBridgeSubnet: "172.18.0.0/16" } });
    if (!r.resolved) throw new Error(r.findings.map((f) => f.message).join("\n"));
    const host = r.resolved;
    const steps = buildSteps(offlinePlan(host, undefined, "head"), host).filter((s) => s.kind);
    expect(steps.some((s) => s.kind === "npm.proxyHost")).toBe(true);
    const applied: string[] = [];
    const drivers: DriversByKind = {};
    for (const k of KINDS) {
      const driver: AnyLiveDriver = {
        observe: () => Promise.reject(new Error("not observed here")),
        apply: (changes) => {
          applied.push(k.kind);
          return Promise.resolve(k.kind === "npm.proxyHost" ? { warnings: [`NPM changes applied but unverified: ${changes.length} host(s) not probed`] } : undefined);
        },
      };
      drivers[k.kind] = driver;
    }
    const events: ExecEvent[] = [];
    const finished: string[] = [];
    await executeSteps({
      steps, host, drivers, runId: 1, runner: new ExecaRunner(), onEvent: (e) => events.push(e),
      journal: { startStep: () => finished.length, finishStep: (_run, _seq, status) => void finished.push(status) },
    });
    // Scope lanes may carry several steps of one kind in one driver call: every kind ran, every step is done.
    expect(new Set(applied)).toEqual(new Set(steps.map((s) => s.kind)));
    expect(finished).toHaveLength(steps.length);
    expect(finished.every((s) => s === "done")).toBe(true);
    const edge = events.find((e) => e.type === "step-done" && e.step.kind === "npm.proxyHost");
    expect(edge).toMatchObject({ detail: expect.stringMatching(/^warning: NPM changes applied but unverified: \d+ host\(s\) not probed$/) as unknown, warnings: [expect.any(String)] as unknown });
    const others = events.filter((e) => e.type === "step-done" && e.step.kind !== "npm.proxyHost");
    expect(others.length).toBeGreaterThan(0);
    for (const e of others) expect(e).not.toHaveProperty("warnings");
  });
});
