import { describe, expect, it } from "vitest";
import type { Phase } from "../../core/changes.js";
import type { ResolvedHost } from "../../core/resources.js";
import { ApplyBatcher, layoutSteps, runLanes, type Lane } from "../../engine/scope-lanes.js";
import type { Step } from "../../engine/steps.js";

/** Scope lanes: which steps become lanes, the order `after` imposes, the bound, failures, and coalesced applies. */
const step = (phase: Phase, scope?: string, kind?: Step["kind"], names: string[] = []): Step => ({
  phase,
  ...(scope ? { scope } : {}),
  ...(kind ? { kind } : {}),
  changes: names.map((n) => ({ ref: { kind: kind!, name: n }, action: "create", phase, fields: [] }) as unknown as Step["changes"][number]),
  description: `${phase} ${scope ?? ""}`,
});
const hostWith = (after: Record<string, string[]>) => ({ scopes: Object.entries(after).map(([name, a]) => ({ name, after: a })) }) as unknown as ResolvedHost;
const tick = () => new Promise((r) => setTimeout(r, 5));

describe("layoutSteps", () => {
  it("makes lanes of the per-scope runtime steps and gates; the rest keeps its place", () => {
    const steps = [
      step("firewall-open", undefined, "ufw.rule"),
      step("runtime-stop", "api", "compose.service"),
      step("runtime-start", "api", "systemd.unit"),
      step("health", "api"),
      step("runtime-start", "web", "systemd.unit"),
      step("health", "web"),
      step("edge", undefined, "npm.proxyHost"),
      step("runtime-retire", "api", "compose.service"),
    ];
    const l = layoutSteps(steps, hostWith({ api: [], web: ["api"] }));
    expect(l.before).toEqual([0]);
    expect(l.after).toEqual([6, 7]);
    expect(l.lanes.map((x) => [x.scope, x.steps, [...x.after]])).toEqual([
      ["api", [1, 2, 3], []],
      ["web", [4, 5], ["api"]],
    ]);
  });

  it("`after` is transitive through scopes that have no steps in this plan", () => {
    const steps = [step("runtime-start", "db", "systemd.unit"), step("runtime-start", "app", "systemd.unit")];
    const l = layoutSteps(steps, hostWith({ db: [], cache: ["db"], app: ["cache"] }));
    expect(l.lanes.find((x) => x.scope === "app")!.after).toEqual(new Set(["db"]));
  });

  it("no per-scope steps: everything runs in order", () => {
    const l = layoutSteps([step("edge", undefined, "npm.proxyHost"), step("dns", undefined, "cloudflare.record")], hostWith({}));
    expect(l).toEqual({ before: [0, 1], lanes: [], after: [] });
  });
});

describe("runLanes", () => {
  const lanes = (spec: Record<string, { steps: number[]; after?: string[] }>): Lane[] =>
    Object.entries(spec).map(([scope, s]) => ({ scope, steps: s.steps, after: new Set(s.after ?? []) }));

  it("runs independent lanes side by side, never more than the limit, and a lane only after those it comes after", async () => {
    const log: string[] = [];
    let active = 0;
    let peak = 0;
    await runLanes(lanes({ a: { steps: [0, 1] }, b: { steps: [2] }, c: { steps: [3] }, d: { steps: [4], after: ["a", "b"] } }), 2, async (i) => {
      active++;
      peak = Math.max(peak, active);
      log.push(`start ${i}`);
      await tick();
      log.push(`end ${i}`);
      active--;
    });
    expect(peak).toBe(2);
    // a's steps in order; d starts only once a (steps 0, 1) and b (step 2) have ended.
    expect(log.indexOf("start 1")).toBeGreaterThan(log.indexOf("end 0"));
    expect(log.indexOf("start 4")).toBeGreaterThan(Math.max(log.indexOf("end 1"), log.indexOf("end 2")));
    expect(log.filter((x) => x.startsWith("end")).sort()).toEqual(["end 0", "end 1", "end 2", "end 3", "end 4"]);
  });

  it("after a failure no new step starts, running steps finish, and the first failure is thrown", async () => {
    const ran: number[] = [];
    const finished: number[] = [];
    const err = await runLanes(lanes({ a: { steps: [0, 1] }, b: { steps: [2, 3] }, c: { steps: [4] } }), 2, async (i) => {
      ran.push(i);
      if (i === 0) throw new Error("gate of a failed");
      await tick();
      finished.push(i);
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe("gate of a failed");
    expect(ran).toEqual([0, 2]); // a's second step, b's second step and lane c never start
    expect(finished).toEqual([2]); // b's running step was let finish
  });

  it("limit 1 runs the lanes one at a time in plan order", async () => {
    const order: number[] = [];
    await runLanes(lanes({ a: { steps: [0] }, b: { steps: [1] }, c: { steps: [2] } }), 1, async (i) => {
      order.push(i);
      await tick();
    });
    expect(order).toEqual([0, 1, 2]);
  });

  it("a dependency cycle does not hang: the lanes run one at a time in plan order", async () => {
    const order: number[] = [];
    await runLanes(lanes({ a: { steps: [0], after: ["b"] }, b: { steps: [1], after: ["a"] } }), 4, async (i) => {
      order.push(i);
      await tick();
    });
    expect(order).toEqual([0, 1]);
  });
});

describe("ApplyBatcher", () => {
  it("steps of one phase and kind submitted in the same turn make one apply with all their changes; each caller gets its outcome", async () => {
    const calls: string[][] = [];
    const b = new ApplyBatcher(async (_s, changes) => {
      calls.push(changes.map((c) => c.ref.name));
      if (changes.some((c) => c.ref.name === "bad")) throw new Error("compose up failed");
    });
    await Promise.all([
      b.submit(step("runtime-start", "a", "compose.service", ["p/a"])),
      b.submit(step("runtime-start", "b", "compose.service", ["p/b"])),
      b.submit(step("runtime-start", "c", "systemd.unit", ["c.service"])),
    ]);
    expect(calls).toEqual([["p/a", "p/b"], ["c.service"]]);
    const later = await Promise.allSettled([b.submit(step("runtime-start", "x", "compose.service", ["bad"])), b.submit(step("runtime-start", "y", "compose.service", ["p/y"]))]);
    expect(later.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(calls.at(-1)).toEqual(["bad", "p/y"]);
  });

  it("calls of one kind never overlap; a batch waiting for its turn takes in steps that arrive meanwhile", async () => {
    const calls: string[][] = [];
    let active = 0;
    let peak = 0;
    const b = new ApplyBatcher(async (_s, changes) => {
      active++;
      peak = Math.max(peak, active);
      calls.push(changes.map((c) => c.ref.name));
      await tick();
      active--;
    });
    const first = b.submit(step("runtime-stop", "a", "compose.service", ["p/a"]));
    await new Promise((r) => setImmediate(r)); // the stop call is now running
    const starts = [b.submit(step("runtime-start", "b", "compose.service", ["p/b"]))];
    await new Promise((r) => setImmediate(r));
    starts.push(b.submit(step("runtime-start", "c", "compose.service", ["p/c"])));
    await Promise.all([first, ...starts]);
    expect(peak).toBe(1);
    expect(calls).toEqual([["p/a"], ["p/b", "p/c"]]);
  });

  it("a call's settle starts once when the call returns, shared by its steps; the kind's next call need not wait for it", async () => {
    const log: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const b = new ApplyBatcher(async (_s, changes) => {
      const names = changes.map((c) => c.ref.name).join(",");
      log.push(`apply ${names}`);
      if (names === "a.service,b.service") return { warnings: [], settle: async () => { log.push("settle a,b"); await held; } };
      if (names === "c.service") return { warnings: ["w"], settle: () => Promise.reject(new Error("c failed at once")) };
      return undefined;
    });
    const [a, bb] = await Promise.all([b.submit(step("runtime-start", "a", "systemd.unit", ["a.service"])), b.submit(step("runtime-start", "b", "systemd.unit", ["b.service"]))]);
    expect(a.settled).toBeDefined();
    expect(a.settled).toBe(bb.settled);
    // a and b's settle is still waiting, yet the next call of the same kind runs and reports its own.
    const c = await b.submit(step("runtime-start", "c", "systemd.unit", ["c.service"]));
    expect(c.report).toMatchObject({ warnings: ["w"] });
    await expect(c.settled).rejects.toThrow(/c failed at once/);
    expect(log).toEqual(["apply a.service,b.service", "settle a,b", "apply c.service"]);
    let settledAB = false;
    void a.settled!.then(() => (settledAB = true));
    await tick();
    expect(settledAB).toBe(false);
    release();
    await a.settled;
    expect((await b.submit(step("runtime-start", "d", "systemd.unit", ["d.service"]))).settled).toBeUndefined();
  });
});
