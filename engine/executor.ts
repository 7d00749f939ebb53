import { ApplyError, errorMessage, TackError } from "../core/errors.js";
import type { ResourceRef } from "../core/refs.js";
import { listSome } from "../core/text.js";
import { waitHealthy, HealthTimeoutError, describeCheck } from "./health/wait-healthy.js";
import type { Runner } from "../core/runner.js";
import type { DriversByKind } from "../core/kind.js";
import type { ResolvedHost } from "../core/resources.js";
import { runtimeKind } from "../kinds/index.js";
import type { Gate } from "./plan.js";
import type { Step } from "./steps.js";
import { ApplyBatcher, layoutSteps, runLanes, type Lane } from "./scope-lanes.js";

/**
 * Runs steps in order, journaling each before and after it runs, so a crash leaves a record of exactly where
 * it stopped. The per-scope runtime steps and gates run as lanes side by side along the `after` graph
 * (scope-lanes.ts), same-phase driver calls of lanes that get there together coalesced into one, after each runtime
 * kind prepared the lanes' starts at once (prepareLanes). The first
 * failure stops the run (steps already running finish) with an ApplyError naming the step and what was applied;
 * rolling back is the caller's decision (run/reconcile.ts).
 */
export type ExecEvent =
  | { type: "step-start"; step: Step; index: number; total: number }
  | { type: "step-done"; step: Step; index: number; total: number; ms: number; detail?: string; warnings?: string[] }
  | { type: "step-failed"; step: Step; index: number; total: number; ms: number; error: string };

/** Where each step is recorded before and after it runs (the run's journal, run/journal.ts). */
export interface StepRecorder {
  startStep(runId: number, step: { phase: string; scope?: string; description: string; refs: string[] }): number;
  finishStep(runId: number, seq: number, status: "done" | "failed", error?: string): void;
}

export interface ExecuteOptions {
  steps: Step[];
  host: ResolvedHost;
  /** The live drivers of the kinds the host manages (engine/observe.ts). */
  drivers: DriversByKind;
  journal: StepRecorder;
  runId: number;
  runner: Runner;
  onEvent?: (e: ExecEvent) => void;
  /** Checked between steps (SIGTERM): the current step finishes, then the run stops as failed. */
  signal?: AbortSignal;
  /** Test hook: called after a step is journaled as started, before it runs (crash injection). */
  beforeStep?: (step: Step, index: number) => void | Promise<void>;
  /** Scope lanes at once (default DEFAULT_PARALLEL_SCOPES); 1 runs the scopes one at a time, in `after` order. */
  parallelScopes?: number;
}

export class AbortedError extends TackError {}

/** How the journal names a step's resources: `kind/name`. */
const journalRef = (ref: ResourceRef) => `${ref.kind}/${ref.name}`;

async function runGate(gate: Gate, opts: ExecuteOptions): Promise<string> {
  const kind = runtimeKind(gate.runtime);
  const desired = kind.desired(opts.host).filter((d) => gate.resources.includes(d.name));
  const probe = opts.drivers[kind.kind]?.gate?.(desired);
  const evidence = await waitHealthy(gate.check, { runner: opts.runner, ...(probe ? { state: probe.state } : {}) });
  if (evidence.healthy) return `${describeCheck(gate.check)}: ${evidence.last.detail} after ${evidence.elapsedMs} ms`;
  const seen = probe ? await probe.evidence().catch((err) => ({ state: [errorMessage(err)], logs: [] as string[] })) : { state: [], logs: [] };
  throw new HealthTimeoutError(`${gate.scope} on ${gate.runtime} (${describeCheck(gate.check)})`, evidence, seen);
}

/**
 * Work the executor does between steps (a kind's prepare, the wait for settles), journaled like a runtime-start step:
 * a failure is recorded on its row and stops the run with an ApplyError naming the resource (the error's own, or
 * `refOf`'s).
 */
async function journaled(
  opts: ExecuteOptions,
  applied: ResourceRef[],
  entry: { description: string; refs: string[] },
  refOf: () => ResourceRef | undefined,
  work: () => Promise<void>,
): Promise<void> {
  const seq = opts.journal.startStep(opts.runId, { phase: "runtime-start", ...entry });
  try {
    await work();
    opts.journal.finishStep(opts.runId, seq, "done");
  } catch (err) {
    opts.journal.finishStep(opts.runId, seq, "failed", errorMessage(err));
    const ref = err instanceof ApplyError ? err.ref : refOf();
    throw new ApplyError(errorMessage(err), { phase: "runtime-start", applied, cause: err, ...(ref ? { ref } : {}) });
  }
}

/**
 * Before the lanes run: each runtime kind's `prepare` (LiveDriver) over the start changes of every lane, journaled
 * like a step. systemd verifies every new unit file in one call and installs them with one daemon-reload here, so
 * an invalid file stops the run before any scope moved, and the lanes' calls only enable and start.
 */
async function prepareLanes(lanes: Lane[], opts: ExecuteOptions, applied: ResourceRef[]): Promise<void> {
  const starts = lanes.flatMap((l) => l.steps.map((i) => opts.steps[i]!)).filter((s) => s.phase === "runtime-start" && s.kind);
  for (const kind of new Set(starts.map((s) => s.kind!))) {
    const driver = opts.drivers[kind];
    if (!driver?.prepare) continue;
    const prepare = driver.prepare.bind(driver);
    const mine = starts.filter((s) => s.kind === kind);
    const changes = mine.flatMap((s) => s.changes);
    if (opts.signal?.aborted) throw new ApplyError("stopped by a signal before the lanes", { phase: "runtime-start", applied, cause: new AbortedError("aborted") });
    const refs = changes.map((c) => journalRef(c.ref));
    const description = `runtime-start: prepare ${kind} for ${mine.length} scope(s) ahead of their lanes: ${listSome(refs, 4)}`;
    await journaled(opts, applied, { description, refs }, () => changes[0]?.ref, () => prepare(changes));
  }
}

interface PendingSettle {
  step: Step;
  settled: Promise<void>;
}

/**
 * Waits for lane starts' settle checks (ApplyReport.settle: systemd's units still running half a second after their
 * start). A lane does not wait for its own: its gate already checks the scope, and waiting 0.5 s per lane serialised a
 * 50-scope converge by 6 s. Nothing switches traffic to a scope's units, or retires their old owner, before their
 * settle passed, and the run does not succeed before all did. Journaled like a step when there is something to wait for.
 */
async function awaitSettles(settles: PendingSettle[], opts: ExecuteOptions, applied: ResourceRef[]): Promise<void> {
  if (settles.length === 0) return;
  const refs = [...new Set(settles.flatMap((s) => s.step.changes.map((c) => journalRef(c.ref))))];
  let failedRef: ResourceRef | undefined;
  await journaled(opts, applied, { description: `runtime-start: started units still running: ${listSome(refs, 4)}`, refs }, () => failedRef, async () => {
    const outcomes = await Promise.allSettled(settles.map((s) => s.settled));
    const failed = outcomes.findIndex((o) => o.status === "rejected");
    if (failed < 0) return;
    failedRef = settles[failed]!.step.changes[0]?.ref;
    throw (outcomes[failed] as PromiseRejectedResult).reason;
  });
}

/** Scope lanes running at once (scope-lanes.ts): enough to overlap starts and gates, few enough for a small host. */
export const DEFAULT_PARALLEL_SCOPES = 4;

export async function executeSteps(opts: ExecuteOptions): Promise<void> {
  const applied: ResourceRef[] = [];
  const total = opts.steps.length;
  const layout = layoutSteps(opts.steps, opts.host);
  const inLane = new Set(layout.lanes.flatMap((l) => l.steps));
  const settles: PendingSettle[] = [];
  const batcher = new ApplyBatcher(async (step, changes) => {
    const driver = opts.drivers[step.kind!];
    if (!driver) throw new TackError(`no live driver for ${step.kind}`);
    return driver.apply(changes);
  });

  const runStep = async (index: number): Promise<void> => {
    const step = opts.steps[index]!;
    if (opts.signal?.aborted) {
      throw new ApplyError("stopped by a signal before this step", { phase: step.phase, applied, cause: new AbortedError("aborted") });
    }
    const refs = step.changes.map((c) => journalRef(c.ref));
    const seq = opts.journal.startStep(opts.runId, {
      phase: step.phase,
      description: step.description,
      refs,
      ...(step.scope ? { scope: step.scope } : {}),
    });
    opts.onEvent?.({ type: "step-start", step, index, total });
    const started = performance.now();
    try {
      await opts.beforeStep?.(step, index);
      let detail: string | undefined;
      let warnings: string[] = [];
      if (step.gate) detail = await runGate(step.gate, opts);
      else if (step.kind) {
        const { report, settled } = await batcher.submit(step);
        warnings = report?.warnings ?? [];
        // In a lane the settle goes on beside the gate and the next lanes; the edge waits for it (awaitSettles).
        if (settled && inLane.has(index)) settles.push({ step, settled });
        else await settled;
        if (warnings.length > 0) detail = warnings.map((w) => `warning: ${w}`).join("; ");
      }
      opts.journal.finishStep(opts.runId, seq, "done");
      applied.push(...step.changes.map((c) => c.ref));
      const ms = Math.round(performance.now() - started);
      opts.onEvent?.({ type: "step-done", step, index, total, ms, ...(detail ? { detail } : {}), ...(warnings.length > 0 ? { warnings } : {}) });
    } catch (err) {
      const message = errorMessage(err);
      opts.journal.finishStep(opts.runId, seq, "failed", message);
      opts.onEvent?.({ type: "step-failed", step, index, total, ms: Math.round(performance.now() - started), error: message });
      // `applied` is the live list: steps of other lanes that finish after this failure are in it too.
      throw new ApplyError(message, { phase: step.phase, applied, cause: err, ...(step.changes[0] ? { ref: step.changes[0].ref } : {}) });
    }
  };

  for (const i of layout.before) await runStep(i);
  await prepareLanes(layout.lanes, opts, applied);
  await runLanes(layout.lanes, opts.parallelScopes ?? DEFAULT_PARALLEL_SCOPES, runStep);
  // A step after the lanes waits for the settles of the scopes its changes belong to (the edge switching traffic
  // to them, the retire of their old owner); the run ends only once every settle passed.
  const take = (due: (s: PendingSettle) => boolean) => {
    const taken = settles.filter(due);
    settles.splice(0, settles.length, ...settles.filter((s) => !due(s)));
    return taken;
  };
  for (const i of layout.after) {
    const scopes = new Set(opts.steps[i]!.changes.map((c) => c.scope));
    await awaitSettles(take((s) => s.step.scope !== undefined && scopes.has(s.step.scope)), opts, applied);
    await runStep(i);
  }
  await awaitSettles(take(() => true), opts, applied);
}
