import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ApplyError } from "../../core/errors.js";
import type { AnyLiveDriver, DriversByKind } from "../../core/kind.js";
import { ExecaRunner } from "../../core/runner.js";
import { loadDesiredState } from "../../desired-state/index.js";
import { executeSteps } from "../../engine/executor.js";
import { offlinePlan } from "../../engine/offline-plan.js";
import { buildSteps, type Step } from "../../engine/steps.js";
import type { ResolvedHost } from "../../core/resources.js";
import { KINDS } from "../../kinds/index.js";
import { tempRepo } from "../helpers/temp-repo.js";

/**
 * Around the scope lanes: a runtime kind's `prepare` sees the start changes of every lane at once, before any lane's
 * driver call, journaled like a step (when it fails, no lane runs); the lanes' settle checks hold back the edge, not
 * the lanes. The drivers here record calls; the plan is real (the islandflow example with every scope native: four
 * lanes of unit starts).
 */
async function nativeExample() {
  const repo = await tempRepo();
  const file = path.join(repo, "tack.yaml");
  await writeFile(file, (await readFile(file, "utf8")).replaceAll("owner: docker", "owner: native"));
  const r = await loadDesiredState(repo, { facts: { npmBridgeGateway: "172.18.0.1", npmBridgeSubnet: "172.18.0.0/16" } });
  if (!r.resolved) throw new Error(r.findings.map((f) => f.message).join("\n"));
  const host = r.resolved;
  const steps = buildSteps(offlinePlan(host, undefined, "head"), host).filter((s) => s.kind);
  return { host, steps };
}

function recordingDrivers(log: string[], prepare?: (names: string[]) => Promise<void>): DriversByKind {
  const drivers: DriversByKind = {};
  for (const k of KINDS) {
    const driver: AnyLiveDriver = {
      observe: () => Promise.reject(new Error("not observed here")),
      apply: (changes) => {
        log.push(`apply ${k.kind} ${changes.map((c) => c.ref.name).join(",")}`);
        return Promise.resolve();
      },
      ...(k.kind === "systemd.unit" && prepare
        ? { prepare: (changes) => (log.push(`prepare ${changes.map((c) => c.ref.name).join(",")}`), prepare(changes.map((c) => c.ref.name))) }
        : {}),
    };
    drivers[k.kind] = driver;
  }
  return drivers;
}

function journal() {
  const steps: { description: string; refs: string[]; status?: string; error?: string }[] = [];
  return {
    steps,
    recorder: {
      startStep: (_run: number, s: { description: string; refs: string[] }) => steps.push({ description: s.description, refs: s.refs }) - 1,
      finishStep: (_run: number, seq: number, status: "done" | "failed", error?: string) => void Object.assign(steps[seq]!, { status, error }),
    },
  };
}

describe("executeSteps: a runtime kind prepares the starts of every lane first", () => {
  it("prepare gets every lane's unit starts in one call, before any unit starts, journaled as a step", async () => {
    const { host, steps } = await nativeExample();
    const unitStarts = steps.filter((s) => s.kind === "systemd.unit" && s.phase === "runtime-start" && s.scope);
    expect(unitStarts.length).toBe(4);
    const log: string[] = [];
    const j = journal();
    await executeSteps({ steps, host, drivers: recordingDrivers(log, () => Promise.resolve()), runId: 1, runner: new ExecaRunner(), journal: j.recorder });
    const prepares = log.filter((l) => l.startsWith("prepare"));
    expect(prepares).toHaveLength(1);
    const prepared = prepares[0]!.slice("prepare ".length).split(",").sort();
    expect(prepared).toEqual(unitStarts.flatMap((s) => s.changes.map((c) => c.ref.name)).sort());
    expect(log.findIndex((l) => l.startsWith("prepare"))).toBeLessThan(log.findIndex((l) => l.startsWith("apply systemd.unit")));
    const entry = j.steps.find((s) => s.description.startsWith("runtime-start: prepare systemd.unit for 4 scope(s)"));
    expect(entry).toMatchObject({ status: "done", refs: expect.arrayContaining(prepared.map((n) => `systemd.unit/${n}`)) as unknown });
    expect(j.steps.every((s) => s.status === "done")).toBe(true);
  });

  it("a failed prepare stops the run before any lane: no unit starts, the error names the unit, the journal says failed", async () => {
    const { host, steps } = await nativeExample();
    const log: string[] = [];
    const j = journal();
    const refusal = new ApplyError("systemd-analyze verify rejected unit islandflow-web.service: bad ExecStart", {
      ref: { kind: "systemd.unit", name: "islandflow-web.service" },
      phase: "runtime-start",
    });
    const err = await executeSteps({ steps, host, drivers: recordingDrivers(log, () => Promise.reject(refusal)), runId: 1, runner: new ExecaRunner(), journal: j.recorder }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplyError);
    expect((err as ApplyError).ref).toEqual({ kind: "systemd.unit", name: "islandflow-web.service" });
    expect((err as ApplyError).message).toMatch(/verify rejected unit islandflow-web.service/);
    expect(log.filter((l) => l.startsWith("apply systemd.unit") || l.startsWith("apply compose.service"))).toEqual([]);
    expect(j.steps.at(-1)).toMatchObject({ status: "failed", error: expect.stringMatching(/bad ExecStart/) as unknown });
  });

  it("a kind without prepare: lanes run as before", async () => {
    const { host, steps } = await nativeExample();
    const log: string[] = [];
    const j = journal();
    await executeSteps({ steps, host, drivers: recordingDrivers(log), runId: 1, runner: new ExecaRunner(), journal: j.recorder });
    expect(log.some((l) => l.startsWith("prepare"))).toBe(false);
    expect(j.steps).toHaveLength(steps.length);
  });
});

describe("executeSteps: lanes do not wait for their starts' settle; the edge does", () => {
  function settlingDrivers(log: string[], settle: () => Promise<void>): DriversByKind {
    const drivers = recordingDrivers(log);
    const units = drivers["systemd.unit"]!;
    drivers["systemd.unit"] = { ...units, apply: async (changes) => (await units.apply(changes), { warnings: [], settle }) };
    return drivers;
  }

  it("every lane finishes while the settle waits; the edge runs once it passed", async () => {
    const { host, steps } = await nativeExample();
    const log: string[] = [];
    const j = journal();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const run = executeSteps({ steps, host, drivers: settlingDrivers(log, () => held), runId: 1, runner: new ExecaRunner(), journal: j.recorder });
    await new Promise((r) => setTimeout(r, 50));
    const unitSteps = j.steps.filter((s) => s.refs.some((r) => r.startsWith("systemd.unit/")) && !s.description.includes("still running"));
    expect(unitSteps.length).toBeGreaterThanOrEqual(4);
    expect(unitSteps.every((s) => s.status === "done")).toBe(true);
    expect(log.some((l) => l.startsWith("apply npm.proxyHost"))).toBe(false);
    expect(j.steps.at(-1)).toMatchObject({ description: expect.stringMatching(/^runtime-start: started units still running/) as unknown });
    expect(j.steps.at(-1)!.status).toBeUndefined();
    release();
    await run;
    expect(log.some((l) => l.startsWith("apply npm.proxyHost"))).toBe(true);
    expect(j.steps.every((s) => s.status === "done")).toBe(true);
  });

  it("a settle that fails stops the run before the edge, naming the unit", async () => {
    const { host, steps } = await nativeExample();
    const log: string[] = [];
    const j = journal();
    const failure = new ApplyError("unit failed to start: islandflow-api.service is failed/failed", { ref: { kind: "systemd.unit", name: "islandflow-api.service" }, phase: "runtime-start" });
    const err = await executeSteps({ steps, host, drivers: settlingDrivers(log, () => Promise.reject(failure)), runId: 1, runner: new ExecaRunner(), journal: j.recorder }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplyError);
    expect((err as ApplyError).ref).toEqual({ kind: "systemd.unit", name: "islandflow-api.service" });
    expect(log.some((l) => l.startsWith("apply npm.proxyHost"))).toBe(false);
    expect(j.steps.at(-1)).toMatchObject({ status: "failed", error: expect.stringMatching(/islandflow-api.service is failed/) as unknown });
  });

  it("a step after the lanes waits only for the settles of its own scopes; the run ends once all passed", async () => {
    const mk = (phase: Step["phase"], scope: string | undefined, kind: Step["kind"], name: string): Step => ({
      phase,
      ...(scope ? { scope } : {}),
      kind,
      changes: [{ ref: { kind: kind!, name }, action: "create", phase, fields: [], risk: "safe", reason: "", ...(scope ? { scope } : {}) }],
      description: `${phase} ${name}`,
    });
    const steps = [mk("runtime-start", "a", "systemd.unit", "a.service"), mk("runtime-start", "b", "systemd.unit", "b.service"), mk("edge", "a", "npm.proxyHost", "a.example.org")];
    const host = { scopes: [{ name: "a", after: [] }, { name: "b", after: [] }] } as unknown as ResolvedHost;
    const log: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const drivers = recordingDrivers(log);
    const units = drivers["systemd.unit"]!;
    // One lane at a time, so a and b are two calls with a settle each; b's is held.
    drivers["systemd.unit"] = { ...units, apply: async (changes) => (await units.apply(changes), { warnings: [], settle: () => (changes[0]!.ref.name === "b.service" ? held : Promise.resolve()) }) };
    const j = journal();
    let finished = false;
    const run = executeSteps({ steps, host, drivers, runId: 1, runner: new ExecaRunner(), journal: j.recorder, parallelScopes: 1 }).then(() => (finished = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(log).toEqual(["apply systemd.unit a.service", "apply systemd.unit b.service", "apply npm.proxyHost a.example.org"]);
    expect(finished).toBe(false);
    expect(j.steps.at(-1)).toMatchObject({ description: "runtime-start: started units still running: systemd.unit/b.service" });
    release();
    await run;
    expect(j.steps.every((st) => st.status === "done")).toBe(true);
  });
});
