import { watch, type FSWatcher } from "chokidar";
import { existsSync } from "node:fs";
import { hostname, userInfo } from "node:os";
import path from "node:path";
import { defaultUnitDir } from "../kinds/systemd-unit/systemd-driver.js";
import { errorMessage, UnsafePlanError, UserError } from "../core/errors.js";
import { formatFinding } from "../core/findings.js";
import { formatRef, RESOURCE_KINDS, type ResourceKind } from "../core/refs.js";
import type { ResolvedHost } from "../core/resources.js";
import { ExecaRunner, type Runner } from "../core/runner.js";
import { Journal, type RunRow } from "../run/journal.js";
import { layerOf } from "../kinds/index.js";
import { LockHeldError, StateLock } from "../run/lock.js";
import { TackMetrics, type ReconcileResult, type ScopeOwnerLabel } from "./metrics.js";
import type { Plan } from "../engine/plan.js";
import { probeScopeHealth } from "../engine/health/scope-health.js";
import { rollbackToGoodRevision } from "../run/manual-rollback.js";
import { observedOwners } from "../engine/planner.js";
import { applyRevision, planLive, recoverUnfinished, resolveLive, type ApplyOutcome, type ReconcileContext, type ReconcileEvent } from "../run/reconcile.js";
import { DEFAULT_FLAP, FlapDetector, type FlapOptions, type FlappingResource } from "./flap-detector.js";
import { startListener } from "./listener.js";
import { decideRevision, jittered } from "./revision-policy.js";
import { SingleFlight } from "./single-flight.js";
import { openSource, type DesiredSource } from "./sources.js";
import { makeSuspension, readSuspension, writeSuspension, type Suspension } from "./suspension.js";

/**
 * The agent (`tack daemon`): follows a git branch (or a directory), converges the host on each new revision
 * through applyRevision, heals drift between commits, and reports on an HTTP listener. One reconcile at a time
 * (SingleFlight); one agent per host (StateLock held for its lifetime).
 */
export interface DaemonOptions {
  repo: string;
  branch?: string;
  path?: string;
  intervalMs?: number;
  listen?: string;
  stateDir: string;
  webhookSecret?: string;
  host?: string;
  allowRewind?: boolean;
  verifySignatures?: boolean;
  allowedSignersFile?: string;
  gpgHome?: string;
  /** Override of the desired state's policy.drift.interval (ms). */
  driftIntervalMs?: number;
  flap?: FlapOptions;
  /** Debounce of the file watchers (directory source, NPM proxy_host dir, unit dir). */
  watchDebounceMs?: number;
  runner?: Runner;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  /** Every reconcile event (plans, steps, rollbacks), e.g. for a progress printer. */
  onEvent?: (e: ReconcileEvent) => void;
  /** Test hook: runs after a step is journaled as started (see ReconcileContext.beforeStep). */
  beforeStep?: ReconcileContext["beforeStep"];
}

export type Trigger = "start" | "poll" | "webhook" | "source" | "drift" | "resume" | "rollback";

export interface LastReconcile {
  at: string;
  triggers: Trigger[];
  result: ReconcileResult | "held" | "suspended" | "error";
  revision: string | undefined;
  durationMs: number;
  message?: string;
}

export interface DaemonStatus {
  host: string | undefined;
  source: string;
  desiredRevision: string | undefined;
  appliedRevision: string | undefined;
  ready: boolean;
  gitReachable: boolean;
  lastReconcile: LastReconcile | undefined;
  lastRun: RunRow | undefined;
  drift: Partial<Record<ResourceKind, number>>;
  driftDetails: string[];
  suspension: Suspension | undefined;
  lastError: string | undefined;
  invalid: { revision: string; message: string; locations: string[] } | undefined;
  held: string | undefined;
  flapping: FlappingResource[];
  reconciles: number;
  /** The last health probe of each owned scope, from the drift checks (not the health gates). */
  health: Record<string, { ok: boolean; detail: string; at: string }>;
}

export interface RunningDaemon {
  url: string;
  metrics: TackMetrics;
  journal: Journal;
  status(): DaemonStatus;
  /** Ask for a reconcile; resolves when one that started after the call has finished. */
  trigger(reason: Trigger): Promise<void>;
  /** Stop taking triggers, let the current step finish (the executor then rolls back), release everything. */
  stop(): Promise<void>;
}

/** Journal key-value entry: Unix ms of the last successful reconcile, kept across agent restarts. */
export const LAST_SUCCESS_KEY = "last-success-ms";

const RESULT_OF: Record<ApplyOutcome["status"], ReconcileResult> = {
  applied: "success",
  "no-changes": "no-changes",
  "rolled-back": "rolled-back",
  "rollback-failed": "failure",
  refused: "refused",
  skipped: "no-changes",
};

function actionable(plan: Plan): Plan["changes"] {
  return plan.changes.filter((c) => !plan.observeOnly.includes(layerOf(c.ref.kind)));
}

function driftByKind(changes: Plan["changes"]): Partial<Record<ResourceKind, number>> {
  const out: Partial<Record<ResourceKind, number>> = {};
  for (const c of changes) out[c.ref.kind as ResourceKind] = (out[c.ref.kind as ResourceKind] ?? 0) + 1;
  return out;
}

function locationsOf(err: UserError): string[] {
  return err.findings.filter((f) => f.severity === "error").map(formatFinding);
}

/** State dirs with an agent in this process: StateLock names a pid, so it cannot tell two of them apart. */
const runningHere = new Set<string>();

export async function startDaemon(options: DaemonOptions): Promise<RunningDaemon> {
  const log = options.log ?? ((line: string) => process.stderr.write(`tack daemon: ${line}\n`));
  const stateDir = path.resolve(options.stateDir);
  if (runningHere.has(stateDir)) throw new LockHeldError(`an agent of this process already runs on ${stateDir}`);
  const runner = options.runner ?? new ExecaRunner();
  const source: DesiredSource = openSource({
    repo: options.repo,
    branch: options.branch ?? "main",
    path: options.path ?? ".",
    stateDir,
    runner,
    ...(options.verifySignatures ? { verifySignatures: true } : {}),
    ...(options.allowedSignersFile ? { allowedSignersFile: options.allowedSignersFile } : {}),
    ...(options.gpgHome ? { gpgHome: options.gpgHome } : {}),
  });
  const lock = StateLock.acquire(stateDir, `tack daemon --repo ${options.repo}`);
  runningHere.add(stateDir);
  const journal = new Journal(stateDir);
  const metrics = new TackMetrics();
  const abort = new AbortController();
  const flaps = new FlapDetector(options.flap ?? DEFAULT_FLAP);

  const st: DaemonStatus = {
    host: options.host,
    source: source.description,
    desiredRevision: undefined,
    appliedRevision: journal.lastGoodRevision(),
    ready: false,
    gitReachable: false,
    lastReconcile: undefined,
    lastRun: journal.lastRun(),
    drift: {},
    driftDetails: [],
    suspension: readSuspension(journal),
    lastError: undefined,
    invalid: undefined,
    held: undefined,
    flapping: [],
    reconciles: 0,
    health: {},
  };
  const reportedHolds = new Set<string>();
  let handledHead: string | undefined;
  // Our own applies write NPM confs and unit files: the drift watchers ignore what they see meanwhile.
  let applying = false;
  let appliedAt = 0;
  let lastHost: ResolvedHost | undefined;

  const onEvent = (e: ReconcileEvent) => {
    options.onEvent?.(e);
    if (e.type === "log") log(e.message);
    else if (e.type === "rollback-start") log(`rolling back to ${e.target} (${e.reason})`);
    else if (e.type === "exec") {
      const ev = e.event;
      if (ev.type === "step-failed") log(`step ${ev.step.phase}${ev.step.scope ? ` [${ev.step.scope}]` : ""} failed: ${ev.error}`);
      if (ev.step.phase === "health" && ev.step.scope && ev.type !== "step-start") metrics.setHealth(ev.step.scope, ev.type === "step-done");
    } else if (e.type === "plan") {
      lastHost = e.host;
      if (e.plan.changes.length) log(`${e.purpose} plan of ${e.plan.revision}: ${e.plan.changes.length} change(s)`);
    }
  };
  const ctx: ReconcileContext = {
    runner,
    stateDir,
    journal,
    signal: abort.signal,
    onEvent,
    ...(options.host ? { host: options.host } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.beforeStep ? { beforeStep: options.beforeStep } : {}),
  };

  if (st.appliedRevision) metrics.setAppliedRevision(st.appliedRevision);
  metrics.setSuspended(!!st.suspension);
  // After a restart the gauge starts where the last agent left it, not at 0 (TackNoRecentSuccess counts from it).
  const lastSuccess = Number(journal.get(LAST_SUCCESS_KEY));
  if (lastSuccess > 0) metrics.setLastSuccess(lastSuccess);

  const recordOutcome = (o: ApplyOutcome) => {
    for (const c of o.cutovers) metrics.cutover(c.scope, c.from, c.to, c.result);
    if (o.status === "rolled-back" || o.status === "rollback-failed") metrics.rollback();
    if (o.status === "applied" || o.status === "no-changes") {
      st.appliedRevision = o.revision;
      metrics.setAppliedRevision(o.revision);
      // What is left after a successful apply: the changes of observe-only layers.
      const left = o.plan ? o.plan.changes.filter((c) => o.plan!.observeOnly.includes(layerOf(c.ref.kind))) : [];
      setDrift(left);
      if (lastHost) metrics.setScopeOwners(lastHost.scopes.map((s) => ({ scope: s.name, owner: s.owner })));
    }
    if (o.error) st.lastError = `${o.revision}: ${o.error}${o.rollbackError ? `\nrollback failed: ${o.rollbackError}` : ""}`;
    st.lastRun = journal.lastRun();
  };

  const setDrift = (changes: Plan["changes"]) => {
    const byKind = driftByKind(changes);
    // A flapping resource is no longer corrected: it stays counted as drift until it holds still.
    for (const f of flaps.flapping()) {
      const kind = f.ref.split("/")[0] as ResourceKind;
      if (RESOURCE_KINDS.includes(kind) && !changes.some((c) => formatRef(c.ref) === f.ref)) byKind[kind] = (byKind[kind] ?? 0) + 1;
    }
    st.drift = byKind;
    st.driftDetails = changes.map((c) => `${formatRef(c.ref)} ${c.action}: ${c.reason}`);
    metrics.setDrift(byKind);
  };

  /** Runs work that writes to the host: the drift watchers ignore what they see meanwhile. */
  const whileApplying = async <T>(work: () => Promise<T>): Promise<T> => {
    applying = true;
    try {
      return await work();
    } finally {
      applying = false;
      appliedAt = Date.now();
    }
  };

  /** Apply a revision, mapping a refused or invalid desired state to its journal mark. */
  const apply = (dir: string, revision: string, leaveAlone: string[] = []): Promise<ReconcileResult> =>
    whileApplying(async () => {
      try {
        const o = await applyRevision({ dir, revision, ...(leaveAlone.length ? { leaveAlone } : {}) }, ctx);
        recordOutcome(o);
        if (o.status === "applied") log(`applied ${revision}`);
        if (o.status === "applied" || o.status === "no-changes") st.lastError = undefined;
        return RESULT_OF[o.status];
      } catch (err) {
        if (err instanceof UserError) {
          journal.setRevision(revision, "invalid", err.message);
          st.invalid = { revision, message: err.message, locations: locationsOf(err) };
          st.lastError = `${revision} is invalid: ${err.message}`;
          log(st.lastError);
          return "invalid";
        }
        if (err instanceof UnsafePlanError) {
          journal.setRevision(revision, "failed", `refused: ${err.message}`);
          st.lastError = `${revision} refused: ${err.message}`;
          log(st.lastError);
          return "refused";
        }
        throw err;
      }
    });

  /** Drift: plan the good revision against the live host; heal what enforce layers may change. */
  const heal = async (revision: string, dir: string, suspended: boolean): Promise<ReconcileResult> => {
    const resolved = await resolveLive(dir, ctx);
    lastHost = resolved;
    const lp = await planLive(resolved, revision, ctx);
    const owners = observedOwners(lp.resolved, lp.observed);
    metrics.setScopeOwners([...owners].map(([scope, owner]) => ({ scope, owner: owner as ScopeOwnerLabel })));
    const health = await probeScopeHealth(lp.resolved, lp.observed, runner);
    metrics.setHealthOfScopes(new Map([...health].map(([scope, r]) => [scope, r.ok])));
    st.health = Object.fromEntries([...health].map(([scope, r]) => [scope, { ok: r.ok, detail: r.detail, at: r.at }]));
    setDrift(lp.plan.changes);
    const todo = actionable(lp.plan);
    if (todo.length === 0) {
      if (!st.appliedRevision || st.appliedRevision !== revision) {
        st.appliedRevision = revision;
        metrics.setAppliedRevision(revision);
      }
      return "no-changes";
    }
    if (suspended) {
      log(`drift on ${todo.length} resource(s), not healed: suspended`);
      return "no-changes";
    }
    const now = Date.now();
    const fresh = todo.filter((c) => !flaps.isFlapping(formatRef(c.ref), now));
    st.flapping = flaps.flapping(now);
    if (fresh.length === 0) {
      log(`drift on ${todo.length} flapping resource(s) is reported, not corrected: ${todo.map((c) => formatRef(c.ref)).join(", ")}`);
      return "no-changes";
    }
    for (const c of fresh) flaps.recordCorrection(formatRef(c.ref), now);
    // Flapping resources stay as they are: only the rest of the drift is corrected.
    const leaveAlone = todo.filter((c) => !fresh.includes(c)).map((c) => formatRef(c.ref));
    log(`healing drift on ${fresh.map((c) => formatRef(c.ref)).join(", ")}${leaveAlone.length ? `; leaving flapping ${leaveAlone.join(", ")} alone` : ""}`);
    const result = await apply(dir, revision, leaveAlone);
    st.flapping = flaps.flapping();
    const healed = result === "success" || result === "no-changes";
    setDrift(healed ? todo.filter((c) => flaps.isFlapping(formatRef(c.ref))) : todo);
    return result;
  };

  const snapshotDir = (revision: string) => path.join(stateDir, "revisions", revision);

  /** `tack rollback` through the listener: the same work as the CLI's, between two reconciles. */
  const manualRollback = (req: { to?: string; by?: string }): Promise<{ status: number; body: unknown }> =>
    whileApplying(async () => {
      const started = Date.now();
      try {
        const r = await rollbackToGoodRevision(ctx, req);
        recordOutcome(r.outcome);
        const ok = r.outcome.status === "applied" || r.outcome.status === "no-changes";
        const error = ok ? undefined : `${r.outcome.error ?? r.outcome.status}${r.outcome.rollbackError ? `; then: ${r.outcome.rollbackError}` : ""}`;
        if (ok) st.lastError = undefined;
        log(ok ? `rolled back from ${r.from ?? "nothing"} to ${r.to}${req.by ? ` for ${req.by}` : ""}` : `rollback to ${r.to} failed: ${error}`);
        finish(started, new Set(["rollback"]), RESULT_OF[r.outcome.status], r.to, error);
        return { status: ok ? 200 : 500, body: { from: r.from ?? null, to: r.to, status: r.outcome.status, ...(error ? { error } : {}) } };
      } catch (err) {
        if (err instanceof UserError) return { status: 400, body: { error: err.message } };
        log(`rollback failed: ${errorMessage(err)}`);
        finish(started, new Set(["rollback"]), "error", undefined, errorMessage(err));
        return { status: 500, body: { error: errorMessage(err) } };
      }
    });
  const rollbacks: { req: { to?: string; by?: string }; resolve: (answer: { status: number; body: unknown }) => void }[] = [];

  const reconcile = async (reasons: Set<Trigger>): Promise<void> => {
    if (reasons.has("rollback")) {
      for (let r = rollbacks.shift(); r; r = rollbacks.shift()) r.resolve(await manualRollback(r.req));
      reasons.delete("rollback");
      if (reasons.size === 0) return;
    }
    const started = Date.now();
    const suspension = readSuspension(journal);
    st.suspension = suspension;
    metrics.setSuspended(!!suspension);
    let result: LastReconcile["result"] = "no-changes";
    let message: string | undefined;
    let target: string | undefined;
    let skipped = false;
    try {
      const fetch = [...reasons].some((r) => r !== "drift") || !st.desiredRevision;
      if (fetch) {
        try {
          st.desiredRevision = await source.sync();
          st.gitReachable = true;
        } catch (err) {
          st.gitReachable = false;
          metrics.gitFetchError();
          st.lastError = errorMessage(err);
          log(st.lastError);
          if (!st.desiredRevision) throw err;
        }
      }
      const head = st.desiredRevision!;
      metrics.setDesiredRevision(head);
      // A poll or hook that finds the head already handled is just a fetch: drift has its own schedule.
      if (head === handledHead && [...reasons].every((r) => r === "poll" || r === "webhook" || r === "source")) {
        skipped = true;
        return;
      }
      handledHead = head;
      const headRow = journal.revision(head);
      const lastGood = journal.lastGoodRevision();
      const descends = !headRow && lastGood && lastGood !== head ? await source.descends(lastGood, head) : undefined;
      const signature = !headRow ? await source.verify(head) : undefined;
      const decision = decideRevision({ head, headRow, lastGood, descends, allowRewind: !!options.allowRewind, signature });
      if (decision.action === "apply") {
        target = head;
        st.held = undefined;
        if (suspension) {
          // Not applied; drift is still observed against what the host runs (the last good revision).
          result = "suspended";
          message = `${head} not applied: suspended until ${suspension.until} (${suspension.reason})`;
          if (lastGood && existsSync(snapshotDir(lastGood))) await heal(lastGood, snapshotDir(lastGood), true);
        } else {
          const co = await source.checkout(head);
          try {
            result = await apply(co.dir, head);
            if (result === "success" || result === "no-changes") st.invalid = undefined;
          } finally {
            await co.cleanup();
          }
        }
      } else {
        if (headRow?.status === "invalid" && st.invalid?.revision !== head) {
          // Known from the journal (e.g. after a restart): keep reporting it with its file:line.
          const msg = headRow.message ?? "";
          st.invalid = { revision: head, message: msg, locations: msg.split("\n").map((l) => l.trim()).filter((l) => /^[^\s:]+:\d+:\d+ /.test(l)) };
        }
        if (decision.action === "hold") {
          st.held = decision.reason;
          if (!reportedHolds.has(head)) {
            reportedHolds.add(head);
            log(decision.reason);
            metrics.reconcileFinished("refused", 0);
          }
        } else if (decision.revision === head) st.held = undefined;
        else st.held = `${head} is marked ${headRow?.status}; keeping ${decision.revision}`;
        target = decision.revision;
        if (target) {
          const snap = snapshotDir(target);
          if (existsSync(snap)) result = await heal(target, snap, !!suspension);
          else if (target === head) {
            const co = await source.checkout(head);
            try {
              result = await heal(head, co.dir, !!suspension);
            } finally {
              await co.cleanup();
            }
          } else message = `no snapshot of ${target} to heal toward`;
        } else result = "held";
        if (suspension && result !== "held") result = "suspended";
      }
    } catch (err) {
      result = "error";
      message = errorMessage(err);
      st.lastError = message;
      log(`reconcile failed: ${message}`);
    } finally {
      if (!skipped) finish(started, reasons, result, target, message);
    }
  };

  const finish = (started: number, reasons: Set<Trigger>, result: LastReconcile["result"], target: string | undefined, message: string | undefined) => {
    const durationMs = Date.now() - started;
    st.reconciles++;
    const metricResult: ReconcileResult | undefined =
      result === "error" ? "failure" : result === "held" || result === "suspended" ? undefined : result;
    if (metricResult) metrics.reconcileFinished(metricResult, durationMs / 1000);
    if (metricResult === "success" || metricResult === "no-changes") journal.set(LAST_SUCCESS_KEY, String(Date.now()));
    st.lastReconcile = { at: new Date().toISOString(), triggers: [...reasons], result, revision: target, durationMs, ...(message ? { message } : {}) };
    st.lastRun = journal.lastRun();
    st.ready = true;
    if (lastHost) ensureDriftWatchers(lastHost);
  };

  const flight = new SingleFlight<Trigger>(reconcile, (err) => log(`reconcile crashed: ${errorMessage(err)}`));

  // Watchers (chokidar): the directory source, and the places drift shows up first (NPM confs, unit files).
  const debounce = options.watchDebounceMs ?? 1000;
  const watchers: FSWatcher[] = [];
  const watched = new Set<string>();
  const timers = new Set<NodeJS.Timeout>();
  let stopping = false;
  const debounced = (reason: Trigger) => {
    let t: NodeJS.Timeout | undefined;
    return () => {
      if (stopping) return;
      if (t) clearTimeout(t);
      t = setTimeout(() => {
        if (t) timers.delete(t);
        void flight.trigger(reason);
      }, debounce);
      timers.add(t);
    };
  };
  const watchDir = (dir: string, reason: Trigger) => {
    if (watched.has(dir) || !existsSync(dir) || stopping) return;
    watched.add(dir);
    const fire = debounced(reason);
    const w = watch(dir, { ignoreInitial: true, ignored: (p) => p.split(path.sep).includes(".git") });
    w.on("all", (event, file) => {
      // Only events during the apply (plus chokidar's stat latency) are ours; a hand edit right after is not.
      if (reason === "drift" && (applying || Date.now() - appliedAt < 300)) return;
      if (reason === "drift") log(`${event} ${file}: checking for drift`);
      fire();
    });
    w.on("error", (err) => log(`watcher of ${dir}: ${errorMessage(err)}`));
    watchers.push(w);
    log(`watching ${dir} (${reason})`);
  };
  function ensureDriftWatchers(h: ResolvedHost) {
    if (h.npm) watchDir(path.join(h.npm.dataDir, "nginx", "proxy_host"), "drift");
    const scopes = new Set(h.scopes.map((s) => s.native?.systemdScope).filter((s): s is "user" | "system" => !!s));
    for (const s of scopes) watchDir(defaultUnitDir(s, options.env ?? process.env), "drift");
  }
  if (source.kind === "dir") watchDir((source as { root: string } & DesiredSource).root, "source");

  /**
   * Polls tick on their own clock (a busy loop coalesces them), so a new commit waits at most one interval;
   * drift checks wait for the reconcile they asked for, so a slow observation never runs back to back.
   */
  const schedule = (reason: Trigger, every: () => number, o: { when?: () => boolean; fixedRate: boolean }) => {
    const tick = () => {
      if (stopping) return;
      const t = setTimeout(() => {
        timers.delete(t);
        if (o.when && !o.when()) return tick();
        const done = flight.trigger(reason);
        if (o.fixedRate) tick();
        else void done.finally(tick);
      }, every());
      timers.add(t);
    };
    tick();
  };

  const listener = await startListener(
    options.listen ?? "127.0.0.1:9469",
    {
      webhookSecret: options.webhookSecret,
      ready: () => st.ready && (source.kind === "dir" || st.gitReachable),
      status: () => ({ ...st, suspension: readSuspension(journal), flapping: flaps.flapping(), lastRun: journal.lastRun() }),
      metrics: async () => ({ contentType: metrics.contentType, body: await metrics.metrics() }),
      gitHook: () => void flight.trigger("webhook"),
      suspend: (body) => {
        const s = makeSuspension(body.for ?? "", body.reason ?? "", body.by ?? "unknown");
        writeSuspension(journal, s);
        st.suspension = s;
        metrics.setSuspended(true);
        log(`suspended until ${s.until} by ${s.by}: ${s.reason}`);
        return { suspended: true, ...s };
      },
      resume: (by) => {
        writeSuspension(journal, undefined);
        st.suspension = undefined;
        metrics.setSuspended(false);
        log(`resumed${by ? ` by ${by}` : ""}`);
        void flight.trigger("resume");
        return { suspended: false };
      },
      rollback: (req) =>
        new Promise((resolve) => {
          if (stopping) return resolve({ status: 503, body: { error: "the agent is stopping" } });
          rollbacks.push({ req, resolve });
          void flight.trigger("rollback");
        }),
    },
    (err) => log(`listener: ${errorMessage(err)}`),
  ).catch((err: unknown) => {
    journal.close();
    lock.release();
    runningHere.delete(stateDir);
    throw err;
  });
  journal.set("daemon:url", listener.url);
  log(`listening on ${listener.url}; following ${source.description}`);

  // Crash recovery: an interrupted run is rolled back, then its revision is tried once more.
  const startup = (async () => {
    try {
      const rec = await recoverUnfinished(ctx);
      for (const r of rec.retry) {
        log(`retrying interrupted revision ${r.revision} once`);
        if (existsSync(r.dir)) await apply(r.dir, r.revision);
      }
    } catch (err) {
      st.lastError = `crash recovery failed: ${errorMessage(err)}`;
      log(st.lastError);
    }
    await flight.trigger("start");
    const intervalMs = options.intervalMs ?? 30_000;
    schedule("poll", () => jittered(intervalMs), { fixedRate: true });
    schedule("drift", () => options.driftIntervalMs ?? lastHost?.policy.driftIntervalMs.local ?? 60_000, { fixedRate: false });
    // A suspension ends by itself: look again when it is due.
    schedule(
      "resume",
      () => {
        const s = readSuspension(journal);
        return s ? Math.max(200, Math.min(Date.parse(s.until) - Date.now() + 50, 10_000)) : 10_000;
      },
      { when: () => !!st.suspension && !readSuspension(journal), fixedRate: false },
    );
  })();

  let stopped: Promise<void> | undefined;
  return {
    url: listener.url,
    metrics,
    journal,
    status: () => ({ ...st, suspension: readSuspension(journal), flapping: flaps.flapping(), lastRun: journal.lastRun() }),
    trigger: (reason) => flight.trigger(reason),
    stop: () =>
      (stopped ??= (async () => {
        stopping = true;
        for (const t of timers) clearTimeout(t);
        abort.abort();
        await flight.close();
        for (let r = rollbacks.shift(); r; r = rollbacks.shift()) r.resolve({ status: 503, body: { error: "the agent stopped before the rollback ran" } });
        await startup.catch(() => undefined);
        for (const t of timers) clearTimeout(t);
        await Promise.all(watchers.map((w) => w.close()));
        await listener.close();
        journal.set("daemon:url", undefined);
        journal.close();
        lock.release();
        runningHere.delete(stateDir);
        log("stopped");
      })()),
  };
}

export function whoAmI(): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return hostname();
  }
}
