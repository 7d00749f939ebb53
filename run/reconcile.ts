import { createHash } from "node:crypto";
import { cp, mkdir, readdir, readFile, rm, stat } from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";
import { loadDesiredState, loadRepo, selectHost } from "../desired-state/index.js";
import { readNpmBridge } from "../kinds/npm-proxy-host/bridge.js";
import type { Phase } from "../core/changes.js";
import { ApplyError, errorMessage, failureClass, UnsafePlanError, UserError } from "../core/errors.js";
import type { Layer } from "../core/kind.js";
import { layerOf } from "../kinds/index.js";
import { formatRef, type ResourceKind } from "../core/refs.js";
import type { HostFacts, Owner, ResolvedHost } from "../core/resources.js";
import type { Runner } from "../core/runner.js";
import { executeSteps, type ExecEvent } from "../engine/executor.js";
import type { Journal } from "./journal.js";
import type { DriversByKind, ObservedByKind } from "../core/kind.js";
import type { Plan } from "../engine/plan.js";
import { blockingFindings } from "../engine/plan.js";
import { buildPlan, observedOwners } from "../engine/planner.js";
import { connectKinds, observeKinds } from "../engine/observe.js";
import { buildSteps, type Step } from "../engine/steps.js";
import { revisionFiles } from "./revision-files.js";
import { unchangedRuntimeKinds } from "./unchanged-runtime.js";
import type { Inventory } from "../core/inventory.js";

/**
 * One reconcile, top to bottom (Flux's shape): snapshot the revision → load and resolve with live facts →
 * observe every kind once → plan → guards → apply phase by phase with gates → on failure roll back to the last
 * good revision → record the outcome. The journal sees every step before and after it runs.
 */
export interface ReconcileContext {
  runner: Runner;
  stateDir: string;
  journal: Journal;
  /** What tack owns, when it is not the journal's (tack plan reads it without opening the journal for writing). */
  inventory?: Inventory;
  /** Host name to select in a fleet (default: the lone Host, else the machine's hostname). */
  host?: string;
  env?: NodeJS.ProcessEnv;
  /** The host's age identity file (default `<state-dir>/age-identity.txt`): decrypts the repo's secrets. */
  ageIdentity?: string;
  onEvent?: (e: ReconcileEvent) => void;
  signal?: AbortSignal;
  /** Test hook for crash injection: runs after a step is journaled as started. */
  beforeStep?: (step: Step, index: number) => void | Promise<void>;
}

export type ReconcileEvent =
  | { type: "plan"; plan: Plan; host: ResolvedHost; purpose: "apply" | "rollback" | "recovery" }
  | { type: "exec"; event: ExecEvent; purpose: "apply" | "rollback" | "recovery" }
  | { type: "rollback-start"; target: string; reason: string }
  | { type: "log"; message: string };

export interface LivePlan {
  plan: Plan;
  resolved: ResolvedHost;
  drivers: DriversByKind;
  observed: ObservedByKind;
}

const SNAPSHOTS_KEPT = 10;
const MAX_SNAPSHOT_BYTES = 32 * 1024 * 1024;

/** Only the machine knows these: the NPM bridge (gateway for native upstreams, subnet for UFW). */
export async function gatherFacts(dir: string, ctx: Pick<ReconcileContext, "runner" | "host"> & { stateDir?: string }): Promise<HostFacts> {
  const repo = await loadRepo(dir, ctx.stateDir ? { stateDir: ctx.stateDir } : {});
  const selected = selectHost(repo, ctx.host ?? defaultHostName(repo.hosts.map((h) => h.doc.metadata.name)));
  const facts: HostFacts = { hostname: hostname() };
  if (!("doc" in selected)) return facts;
  const npm = selected.doc.edge?.npm;
  if (npm) {
    const bridge = await readNpmBridge(ctx.runner, npm.network);
    facts.npmBridgeGateway = bridge.gateway;
    facts.npmBridgeSubnet = bridge.subnet;
  }
  return facts;
}

/** A lone Host is selected; in a fleet, the one named like this machine (the agent's `--host` default). */
export function defaultHostName(names: string[]): string | undefined {
  if (names.length <= 1) return undefined;
  const me = hostname();
  return names.includes(me) ? me : undefined;
}

export async function resolveLive(dir: string, ctx: ReconcileContext, owners?: Record<string, Owner>): Promise<ResolvedHost> {
  const facts = await gatherFacts(dir, ctx);
  // The state dir keeps the parsed files for the next process (desired-state/parsed-cache.ts).
  const host = ctx.host ?? defaultHostName((await loadRepo(dir, { stateDir: ctx.stateDir })).hosts.map((h) => h.doc.metadata.name));
  const r = await loadDesiredState(dir, { facts, stateDir: ctx.stateDir, ...(host ? { host } : {}), ...(owners ? { owners } : {}) });
  if (!r.resolved) throw new UserError(`the desired state in ${dir} is invalid`, r.findings);
  return r.resolved;
}

/** `assumed`: kinds taken as converged instead of observed (unchanged-runtime.ts; never for a drift check). */
export async function planLive(resolved: ResolvedHost, revision: string, ctx: ReconcileContext, assumed: readonly ResourceKind[] = []): Promise<LivePlan> {
  const inventory = ctx.inventory ?? ctx.journal;
  const drivers = await connectKinds(resolved, {
    runner: ctx.runner,
    stateDir: ctx.stateDir,
    inventory,
    ...(ctx.env ? { env: ctx.env } : {}),
    ...(ctx.ageIdentity ? { ageIdentity: ctx.ageIdentity } : {}),
  });
  const observed = await observeKinds(resolved, drivers, assumed);
  const plan = buildPlan({ host: resolved, revision, observedAt: new Date().toISOString(), observed, offline: false });
  return { plan, resolved, drivers, observed };
}

/** Content hash of a desired-state directory: the revision of a plain directory (git gives commits instead). */
export async function dirRevision(dir: string): Promise<string> {
  const h = createHash("sha256");
  let total = 0;
  for await (const { rel, abs, entry } of revisionFiles(dir)) {
    if (entry.isSymbolicLink()) {
      h.update(rel + "\0symlink\0");
      continue;
    }
    total += (await stat(abs)).size;
    if (total > MAX_SNAPSHOT_BYTES) throw new UserError(`the desired-state directory ${dir} is over ${MAX_SNAPSHOT_BYTES} bytes`);
    h.update(rel + "\0").update(await readFile(abs)).update("\0");
  }
  return "dir-" + h.digest("hex").slice(0, 12);
}

/**
 * Keep a copy of every applied revision in the state dir: rollback needs the last good revision's compose
 * files and unit files even after the repo moved on. Symlinks are copied as links; confinement still applies.
 */
export async function snapshotRevision(dir: string, revision: string, stateDir: string): Promise<string> {
  const root = path.join(stateDir, "revisions");
  const dest = path.join(root, revision);
  const exists = await stat(dest).catch(() => undefined);
  if (!exists) {
    await mkdir(root, { recursive: true });
    const tmp = `${dest}.tmp-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    await cp(dir, tmp, { recursive: true, verbatimSymlinks: true, filter: (src) => path.basename(src) !== ".git" });
    await (await import("node:fs/promises")).rename(tmp, dest);
  }
  return dest;
}

export async function pruneSnapshots(stateDir: string, keep: Set<string>): Promise<void> {
  const root = path.join(stateDir, "revisions");
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  const withTimes = await Promise.all(entries.filter((e) => e.isDirectory()).map(async (e) => ({ name: e.name, t: (await stat(path.join(root, e.name))).mtimeMs })));
  withTimes.sort((a, b) => b.t - a.t);
  for (const e of withTimes.slice(SNAPSHOTS_KEPT)) if (!keep.has(e.name)) await rm(path.join(root, e.name), { recursive: true, force: true });
}

export interface ApplyOutcome {
  /**
   * failed-transient: a 429, a 5xx, an unreachable daemon (after retries within the step) or a host problem stopped
   * the run; the revision is not marked bad and is tried again (rolled back first only if a runtime had moved).
   */
  status: "no-changes" | "applied" | "rolled-back" | "rollback-failed" | "failed-transient" | "refused" | "skipped";
  /** For failed-transient: a transient failure, or a problem of the host ("stalled" until a person fixes it). */
  failureClass?: "transient" | "host";
  revision: string;
  runId?: number;
  error?: string;
  plan?: Plan;
  /** Scope cutovers of this run: scope → from/to, with the result. */
  cutovers: { scope: string; from: string; to: string; result: "succeeded" | "rolled-back" | "failed" }[];
  rollbackError?: string;
  /** Kinds planned as converged without being observed (ApplyRequest.assumeUnchangedRuntime). */
  assumed?: ResourceKind[];
}

function emitPlan(ctx: ReconcileContext, lp: LivePlan, purpose: "apply" | "rollback" | "recovery") {
  ctx.onEvent?.({ type: "plan", plan: lp.plan, host: lp.resolved, purpose });
}

async function executePlan(lp: LivePlan, runId: number, ctx: ReconcileContext, purpose: "apply" | "rollback" | "recovery"): Promise<void> {
  await executeSteps({
    steps: buildSteps(lp.plan, lp.resolved),
    host: lp.resolved,
    drivers: lp.drivers,
    journal: ctx.journal,
    runId,
    runner: ctx.runner,
    onEvent: (event) => ctx.onEvent?.({ type: "exec", event, purpose }),
    ...(purpose === "apply" && ctx.signal ? { signal: ctx.signal } : {}),
    ...(purpose === "apply" && ctx.beforeStep ? { beforeStep: ctx.beforeStep } : {}),
  });
}

/**
 * Converge the host back to a known state: the last good revision if there is one, else this revision's
 * desired state with the scope owners that were observed before the run (a first apply has no good revision).
 */
async function rollBack(
  runId: number,
  revision: string,
  ctx: ReconcileContext,
  preRunOwners: Record<string, Owner> | undefined,
  failedDir: string,
  layers?: Set<Layer>,
): Promise<{ target: string }> {
  const good = ctx.journal.lastGoodRevision();
  let target: string;
  let resolved: ResolvedHost;
  if (good && good !== revision) {
    target = good;
    resolved = await resolveLive(path.join(ctx.stateDir, "revisions", good), ctx);
  } else {
    target = `${revision} with the owners it had before (no earlier good revision)`;
    resolved = await resolveLive(failedDir, ctx, preRunOwners);
  }
  ctx.onEvent?.({ type: "rollback-start", target, reason: "a step or gate failed" });
  const lp = await planLive(resolved, good ?? revision, ctx);
  // A rollback undoes what the run did, in the layers it touched: a failed DNS step of a run that moved no runtime
  // never stops or starts a runtime (other drift is the agent's healing, not this rollback's).
  if (layers) lp.plan = { ...lp.plan, changes: lp.plan.changes.filter((c) => layers.has(layerOf(c.ref.kind))) };
  emitPlan(ctx, lp, "rollback");
  await executePlan(lp, runId, ctx, "rollback");
  return { target };
}

function ownersOf(lp: LivePlan): Record<string, Owner> {
  const out: Record<string, Owner> = {};
  for (const [scope, owner] of observedOwners(lp.resolved, lp.observed)) {
    // Both running counts as the desired owner: rollback must not bring back a second owner.
    const desired = lp.resolved.scopes.find((s) => s.name === scope)?.owner ?? "none";
    out[scope] = owner === "both" ? desired : owner;
  }
  return out;
}

export interface ApplyRequest {
  /** Directory holding the desired state of this revision (a checkout, or the user's directory). */
  dir: string;
  /** Revision id (a commit); default: a content hash of the directory. */
  revision?: string;
  /** Refuse unless the live plan still has this fingerprint (a saved plan). */
  expectFingerprint?: string;
  /** Asked after planning, before applying (interactive `tack apply` without --yes). */
  confirm?: (plan: Plan, host: ResolvedHost) => Promise<boolean>;
  /** Resources (`kind/name`) whose changes are left out of this run: the agent's flapping resources. */
  leaveAlone?: string[];
  /**
   * Plan the runtimes as converged, unobserved, when they want exactly what the last good revision wanted (the
   * agent's path for an edge-only commit: run/unchanged-runtime.ts). The outcome's `assumed` names them: the
   * caller owes the host a full observation (a drift check) right after.
   */
  assumeUnchangedRuntime?: boolean;
}

/** The layers a failed run changed: those of the steps it finished, and of the step that failed. */
function touchedLayers(lp: LivePlan, err: unknown): Set<Layer> {
  const layers = new Set<Layer>();
  if (!(err instanceof ApplyError)) {
    for (const c of lp.plan.changes) layers.add(layerOf(c.ref.kind));
    return layers;
  }
  for (const ref of err.applied) layers.add(layerOf(ref.kind));
  if (err.ref) layers.add(layerOf(err.ref.kind));
  if (RUNTIME_PHASES.has(err.phase)) layers.add("runtime");
  return layers;
}

const RUNTIME_PHASES = new Set<Phase>(["runtime-stop", "runtime-start", "health", "runtime-retire"]);

/**
 * The last good revision's snapshot, resolved on demand (unchanged-runtime.ts compares against it) with the
 * facts just gathered for the new one: the same host, a moment apart.
 */
function lastGood(ctx: ReconcileContext, now: ResolvedHost): { dir: string; resolve: () => Promise<ResolvedHost> } | undefined {
  const good = ctx.journal.lastGoodRevision();
  if (!good) return undefined;
  const dir = path.join(ctx.stateDir, "revisions", good);
  return {
    dir,
    resolve: async () => {
      const r = await loadDesiredState(dir, { facts: now.facts, stateDir: ctx.stateDir, host: now.host });
      if (!r.resolved) throw new UserError(`the desired state in ${dir} is invalid`, r.findings);
      return r.resolved;
    },
  };
}

export async function applyRevision(req: ApplyRequest, ctx: ReconcileContext): Promise<ApplyOutcome> {
  const revision = req.revision ?? (await dirRevision(req.dir));
  const snapshot = await snapshotRevision(req.dir, revision, ctx.stateDir);
  const resolved = await resolveLive(snapshot, ctx);
  const assumed = req.assumeUnchangedRuntime ? await unchangedRuntimeKinds(snapshot, resolved, lastGood(ctx, resolved)) : [];
  const lp = await planLive(resolved, revision, ctx, assumed);
  const extra = assumed.length ? { assumed } : {};
  if (req.leaveAlone?.length) {
    const leave = new Set(req.leaveAlone);
    lp.plan = { ...lp.plan, changes: lp.plan.changes.filter((c) => !leave.has(formatRef(c.ref))) };
  }
  emitPlan(ctx, lp, "apply");
  const blocking = blockingFindings(lp.plan);
  if (blocking.length) throw new UnsafePlanError(blocking);
  if (req.expectFingerprint && req.expectFingerprint !== lp.plan.fingerprint) {
    throw new UserError(`the saved plan is stale: the host changed since it was made (fingerprint ${req.expectFingerprint}, now ${lp.plan.fingerprint}); make a new plan`);
  }
  const applicable = buildSteps(lp.plan, lp.resolved);
  if (applicable.length === 0) {
    if (ctx.journal.revision(revision)?.status !== "good") ctx.journal.setRevision(revision, "good", "no changes needed");
    return { ...extra, status: "no-changes", revision, plan: lp.plan, cutovers: [] };
  }
  if (req.confirm && !(await req.confirm(lp.plan, lp.resolved))) return { ...extra, status: "skipped", revision, plan: lp.plan, cutovers: [] };

  const runId = ctx.journal.startRun(revision, "apply");
  const preRunOwners = ownersOf(lp);
  ctx.journal.set(`run:${runId}:owners`, JSON.stringify(preRunOwners));
  ctx.journal.set(`run:${runId}:dir`, snapshot);
  const cutovers = lp.plan.cutovers.map((c) => ({ scope: c.scope, from: c.from, to: c.to }));
  try {
    await executePlan(lp, runId, ctx, "apply");
    ctx.journal.setRevision(revision, "good");
    ctx.journal.finishRun(runId, "succeeded");
    await pruneSnapshots(ctx.stateDir, new Set([revision]));
    return { ...extra, status: "applied", revision, runId, plan: lp.plan, cutovers: cutovers.map((c) => ({ ...c, result: "succeeded" as const })) };
  } catch (err) {
    const error = errorMessage(err);
    const cls = failureClass(err);
    const touched = touchedLayers(lp, err);
    if (cls !== "failure" && !touched.has("runtime")) {
      // Not the revision's fault and no runtime moved: leave the host where it is; the next run finishes the job.
      ctx.journal.finishRun(runId, "failed-transient", error);
      return { ...extra, status: "failed-transient", failureClass: cls, revision, runId, error, plan: lp.plan, cutovers: cutovers.map((c) => ({ ...c, result: "failed" as const })) };
    }
    if (cls === "failure") ctx.journal.setRevision(revision, "failed", error);
    try {
      const { target } = await rollBack(runId, revision, ctx, preRunOwners, snapshot, touched);
      if (cls !== "failure") {
        ctx.journal.finishRun(runId, "failed-transient", error, target);
        return { ...extra, status: "failed-transient", failureClass: cls, revision, runId, error, plan: lp.plan, cutovers: cutovers.map((c) => ({ ...c, result: "rolled-back" as const })) };
      }
      ctx.journal.finishRun(runId, "rolled-back", error, target);
      return { ...extra, status: "rolled-back", revision, runId, error, plan: lp.plan, cutovers: cutovers.map((c) => ({ ...c, result: "rolled-back" as const })) };
    } catch (rbErr) {
      const rollbackError = errorMessage(rbErr);
      ctx.journal.finishRun(runId, "rollback-failed", `${error}\nrollback failed: ${rollbackError}`);
      return { ...extra, status: "rollback-failed", revision, runId, error, rollbackError, plan: lp.plan, cutovers: cutovers.map((c) => ({ ...c, result: "failed" as const })) };
    }
  }
}

/**
 * Crash recovery (design.md Decisions): a run the journal says is still running was cut short. Roll the host
 * back to the last good state, then report the revision so the caller tries it once more (a crash is not the
 * revision's fault). Returns the revisions to retry.
 */
export async function recoverUnfinished(ctx: ReconcileContext): Promise<{ retry: { revision: string; dir: string }[]; recovered: number[] }> {
  const retry: { revision: string; dir: string }[] = [];
  const recovered: number[] = [];
  for (const run of ctx.journal.unfinishedRuns()) {
    ctx.onEvent?.({ type: "log", message: `run ${run.id} (${run.revision}) was interrupted: rolling back to the last good state` });
    ctx.journal.finishRun(run.id, "interrupted", "the process stopped in the middle of this run");
    const owners = ctx.journal.get(`run:${run.id}:owners`);
    const dir = ctx.journal.get(`run:${run.id}:dir`) ?? path.join(ctx.stateDir, "revisions", run.revision);
    const recoveryRun = ctx.journal.startRun(run.revision, "rollback");
    try {
      const { target } = await rollBack(recoveryRun, run.revision, ctx, owners ? (JSON.parse(owners) as Record<string, Owner>) : undefined, dir);
      ctx.journal.finishRun(recoveryRun, "succeeded", undefined, target);
    } catch (err) {
      ctx.journal.finishRun(recoveryRun, "failed", errorMessage(err));
      throw new ApplyError(`recovery of interrupted run ${run.id} failed: ${errorMessage(err)}`, { phase: "preflight", cause: err });
    }
    recovered.push(run.id);
    const key = `retried:${run.revision}`;
    if (!ctx.journal.get(key)) {
      ctx.journal.set(key, "1");
      retry.push({ revision: run.revision, dir });
    }
  }
  return { retry, recovered };
}
