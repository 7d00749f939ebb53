import type { ApplyReport } from "../core/kind.js";
import type { ResolvedHost } from "../core/resources.js";
import type { Step } from "./steps.js";

/**
 * The per-scope part of a plan (each scope's runtime-stop → runtime-start → health gate, steps.ts) as lanes that
 * run side by side: a scope's lane starts once the lanes of every scope it comes `after` (transitively) have
 * finished, at most `limit` lanes at a time, each with its own gate. Steps outside that part keep their order.
 *
 * Why: one scope at a time, a first converge of 50 scopes spent ~1 s per scope waiting on its own start and
 * gate (bench/README.md).
 */
export interface Lane {
  scope: string;
  /** Indexes into the plan's steps, in order. */
  steps: number[];
  /** Scopes whose lanes must finish before this one starts. */
  after: Set<string>;
}

export interface StepLayout {
  /** Steps before the lanes, the lanes, and steps after them; every index appears exactly once. */
  before: number[];
  lanes: Lane[];
  after: number[];
}

const LANE_PHASES = new Set(["runtime-stop", "runtime-start", "health"]);

/** Splits the steps: the contiguous run of per-scope runtime and health steps becomes lanes. */
export function layoutSteps(steps: Step[], host: ResolvedHost): StepLayout {
  const inLane = (s: Step) => s.scope !== undefined && LANE_PHASES.has(s.phase);
  const first = steps.findIndex(inLane);
  if (first < 0) return { before: steps.map((_, i) => i), lanes: [], after: [] };
  let end = first;
  while (end < steps.length && inLane(steps[end]!)) end++;
  const byScope = new Map<string, Lane>();
  for (let i = first; i < end; i++) {
    const scope = steps[i]!.scope!;
    let lane = byScope.get(scope);
    if (!lane) byScope.set(scope, (lane = { scope, steps: [], after: new Set() }));
    lane.steps.push(i);
  }
  const direct = new Map(host.scopes.map((s) => [s.name, s.after]));
  for (const lane of byScope.values()) {
    // Transitive: a scope after an unchanged scope that is itself after a changing one still waits for that one.
    const seen = new Set<string>();
    const walk = (n: string) => {
      for (const d of direct.get(n) ?? []) {
        if (seen.has(d)) continue;
        seen.add(d);
        walk(d);
      }
    };
    walk(lane.scope);
    for (const d of seen) if (d !== lane.scope && byScope.has(d)) lane.after.add(d);
  }
  const range = (a: number, b: number) => Array.from({ length: b - a }, (_, k) => a + k);
  return { before: range(0, first), lanes: [...byScope.values()], after: range(end, steps.length) };
}

/**
 * Runs lanes with at most `limit` at a time, each lane's steps in order through `runStep`. After the first failure
 * no new step starts; steps already running finish; then the first failure is thrown. Lanes whose dependencies
 * cannot finish (a cycle: validation refuses those, this is a backstop) start one at a time in plan order.
 */
export async function runLanes(lanes: Lane[], limit: number, runStep: (index: number) => Promise<void>): Promise<void> {
  const done = new Set<string>();
  const pending = [...lanes];
  const running = new Set<Promise<void>>();
  let failure: { err: unknown } | undefined;

  const runLane = async (lane: Lane) => {
    for (const i of lane.steps) {
      if (failure) return;
      try {
        await runStep(i);
      } catch (err) {
        failure ??= { err };
        return;
      }
    }
    done.add(lane.scope);
  };
  const start = (lane: Lane) => {
    pending.splice(pending.indexOf(lane), 1);
    const p: Promise<void> = runLane(lane).finally(() => running.delete(p));
    running.add(p);
  };

  while (!failure && pending.length > 0) {
    const ready = pending.filter((l) => [...l.after].every((d) => done.has(d)));
    for (const lane of ready.slice(0, Math.max(0, limit - running.size))) start(lane);
    if (running.size === 0) {
      // Nothing ready and nothing running: a dependency cycle. Go on in plan order rather than wait forever.
      start(pending[0]!);
    }
    await Promise.race(running);
  }
  await Promise.allSettled([...running]);
  if (failure) throw failure.err;
}

/** A driver call's outcome for one step: the report, and its settle check, started once for every step it carried. */
export interface Submitted {
  report: ApplyReport | void;
  settled?: Promise<void>;
}

type Waiter = { resolve: (s: Submitted) => void; reject: (e: unknown) => void };

/**
 * Coalesces driver calls of lanes that reach the same (phase, kind) together into one call with all their
 * changes: scopes that start together start with one `docker compose up -d` (per project) and one `systemctl
 * start`. Calls of one kind never overlap (a driver keeps one inventory file, one daemon-reload, one compose
 * project per call: none of them is written for concurrent callers); a batch stays open to newcomers until its
 * turn comes. A call's `settle` (ApplyReport) is started once the call returns, while the next call may run. Each
 * caller gets its call's outcome.
 */
export class ApplyBatcher {
  private readonly open = new Map<string, { changes: Step["changes"]; waiters: Waiter[] }>();
  private readonly busy = new Map<string, Promise<void>>();

  constructor(private readonly apply: (step: Step, changes: Step["changes"]) => Promise<ApplyReport | void>) {}

  /** Resolves with the call's report (its warnings) and its started settle, shared by every step the call carried. */
  submit(step: Step): Promise<Submitted> {
    const key = `${step.phase} ${step.kind}`;
    let batch = this.open.get(key);
    if (!batch) {
      const b = (batch = { changes: [] as Step["changes"], waiters: [] as Waiter[] });
      this.open.set(key, b);
      const kind = String(step.kind);
      const previous = this.busy.get(kind) ?? Promise.resolve();
      // setImmediate runs after the promise jobs of this turn: every lane that got here in this turn has joined.
      const turn = new Promise<void>((r) => setImmediate(r));
      const call = Promise.all([previous, turn]).then(async () => {
        this.open.delete(key);
        await this.apply(step, b.changes).then(
          (report) => {
            // Started here, once per call; the kind's next call may start meanwhile (a settle only reads).
            const settled = report?.settle?.();
            settled?.catch(() => undefined); // its callers see the rejection; an abandoned run must not crash on it
            b.waiters.forEach((w) => w.resolve({ report, ...(settled ? { settled } : {}) }));
          },
          (err: unknown) => b.waiters.forEach((w) => w.reject(err)),
        );
      });
      this.busy.set(kind, call);
    }
    batch.changes.push(...step.changes);
    const joined = batch;
    return new Promise((resolve, reject) => joined.waiters.push({ resolve, reject }));
  }
}
