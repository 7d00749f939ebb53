import { existsSync } from "node:fs";
import { hostname, userInfo } from "node:os";
import path from "node:path";
import { errorMessage } from "../core/errors.js";
import { ExecaRunner, type Runner } from "../core/runner.js";
import { composeInUse } from "../kinds/compose-service/kind.js";
import { Journal } from "../run/journal.js";
import { LockHeldError, StateLock } from "../run/lock.js";
import { recoverUnfinished, type ReconcileContext, type ReconcileEvent } from "../run/reconcile.js";
import { Applier } from "./applier.js";
import { controlHandlers } from "./control-handlers.js";
import { DEFAULT_FLAP, FlapDetector, type FlapOptions } from "./flap-detector.js";
import { Healer } from "./heal.js";
import { parseListen, startListener } from "./listener.js";
import { TackMetrics } from "./metrics.js";
import { recordReconcile, restoreLastSuccess, type ReconcileRecord } from "./reconcile-record.js";
import { jittered } from "./revision-policy.js";
import { RetryBackoff, type RetryBackoffOptions } from "./retry-backoff.js";
import { RevisionLoop } from "./revision-loop.js";
import { RollbackRequests } from "./rollback-requests.js";
import { Scheduler, type Trigger } from "./scheduler.js";
import { openSource, type DesiredSource } from "./sources.js";
import { AgentStatus, type DaemonStatus } from "./status.js";
import { readSuspension } from "./suspension.js";
import { requireUiToken } from "./ui/ui-access.js";
import { Watchers } from "./watchers.js";
import { fileSecret } from "./file-secret.js";

/**
 * The agent (`tack daemon`): follows a git branch (or a directory), converges the host on each new revision
 * through applyRevision, heals drift between commits, and reports on an HTTP listener. One reconcile at a time
 * (SingleFlight); one agent per host (StateLock held for its lifetime).
 *
 * This file wires the parts and owns start and stop: status.ts (what /status reports), scheduler.ts (triggers,
 * timers, single-flight), revision-loop.ts (fetch → decide → apply, heal or hold), heal.ts (drift between
 * commits), applier.ts (every write to the host), watchers.ts (chokidar), rollback-requests.ts and
 * control-handlers.ts (the listener's commands), reconcile-record.ts (the end of each reconcile).
 */
export interface DaemonOptions {
  repo: string;
  branch?: string;
  path?: string;
  intervalMs?: number;
  listen?: string;
  stateDir: string;
  webhookSecret?: string;
  /**
   * Or the file holding it, read at each webhook (cached by mtime): it may be a secret's target that the first
   * converge writes, or a rotation rewrites. Unreadable or shorter than 16 characters: webhooks get 404.
   */
  webhookSecretFile?: string;
  /** The host's age identity file (default `<state-dir>/age-identity.txt`). */
  ageIdentity?: string;
  /** Bearer token of the status page (--ui-token-file); required when the listener is not on loopback. */
  uiToken?: string;
  host?: string;
  allowRewind?: boolean;
  verifySignatures?: boolean;
  allowedSignersFile?: string;
  gpgHome?: string;
  /** Override of the desired state's policy.drift.interval (ms). */
  driftIntervalMs?: number;
  flap?: FlapOptions;
  /** Waits before trying a revision again after a transient failure or a host problem (default 5 s doubling to 5 min). */
  retryBackoff?: RetryBackoffOptions;
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

/** State dirs with an agent in this process: StateLock names a pid, so it cannot tell two of them apart. */
const runningHere = new Set<string>();

/** The agent's parts, wired together (status, writes, reconciles, watchers, timers); the listener comes after. */
interface Agent {
  log: (line: string) => void;
  stateDir: string;
  source: DesiredSource;
  lock: StateLock;
  journal: Journal;
  metrics: TackMetrics;
  status: AgentStatus;
  applier: Applier;
  scheduler: Scheduler;
  watchers: Watchers;
  rollbacks: RollbackRequests;
  abort: AbortController;
}

function openSourceOf(options: DaemonOptions, stateDir: string, runner: Runner): DesiredSource {
  return openSource({
    repo: options.repo,
    branch: options.branch ?? "main",
    path: options.path ?? ".",
    stateDir,
    runner,
    ...(options.verifySignatures ? { verifySignatures: true } : {}),
    ...(options.allowedSignersFile ? { allowedSignersFile: options.allowedSignersFile } : {}),
    ...(options.gpgHome ? { gpgHome: options.gpgHome } : {}),
  });
}

/** The status as the journal left it; the metrics start from it too. */
function openStatus(options: DaemonOptions, source: DesiredSource, journal: Journal, metrics: TackMetrics, flaps: FlapDetector, log: (line: string) => void): AgentStatus {
  const status = new AgentStatus(
    { host: options.host, source: source.description, appliedRevision: journal.lastGoodRevision(), lastRun: journal.lastRun(), suspension: readSuspension(journal) },
    () => ({ suspension: readSuspension(journal), flapping: flaps.flapping(), lastRun: journal.lastRun(), compose: composeInUse() }),
    (err) => log(`status listener: ${errorMessage(err)}`),
  );
  const { appliedRevision, suspension } = status.fields;
  if (appliedRevision) metrics.setAppliedRevision(appliedRevision);
  metrics.setSuspended(!!suspension);
  restoreLastSuccess(journal, metrics);
  return status;
}

function assemble(options: DaemonOptions, log: (line: string) => void): Agent {
  const stateDir = path.resolve(options.stateDir);
  if (runningHere.has(stateDir)) throw new LockHeldError(`an agent of this process already runs on ${stateDir}`);
  const runner = options.runner ?? new ExecaRunner();
  const source = openSourceOf(options, stateDir, runner);
  const lock = StateLock.acquire(stateDir, `tack daemon --repo ${options.repo}`);
  runningHere.add(stateDir);
  const journal = new Journal(stateDir);
  const metrics = new TackMetrics();
  const abort = new AbortController();
  const flaps = new FlapDetector(options.flap ?? DEFAULT_FLAP);
  const status = openStatus(options, source, journal, metrics, flaps, log);
  const { host, env, onEvent, beforeStep, ageIdentity } = options;
  // The scheduler is made below: an apply that left the runtimes unobserved asks it for a drift check.
  const driftCheckOwed = () => scheduler.once("drift", 0);
  const applier = new Applier({ stateDir, runner, journal, metrics, status, flaps, signal: abort.signal, log, host, env, onEvent, beforeStep, ageIdentity, driftCheckOwed });
  const healer = new Healer({ applier, runner, metrics, status, flaps, log });
  // The scheduler is made below; the backoff only reaches it once reconciles run.
  const retry = new RetryBackoff(
    (delayMs) => scheduler.once("retry", delayMs),
    () => scheduler.cancel("retry"),
    status,
    options.retryBackoff,
  );
  const loop = new RevisionLoop({ source, journal, metrics, status, applier, healer, stateDir, allowRewind: !!options.allowRewind, log, retry });
  const record = (r: ReconcileRecord) => {
    recordReconcile(r, { status, metrics, journal });
    if (applier.lastHost) watchers.watchDriftOf(applier.lastHost);
  };
  const rollbacks = new RollbackRequests({ applier, status, log, record });
  // Rollback requests run first, between two reconciles; a turn with no other reason ends there.
  const turn = async (reasons: Set<Trigger>) => {
    if (reasons.has("rollback")) {
      await rollbacks.runAll();
      reasons.delete("rollback");
      if (reasons.size === 0) return;
    }
    const r = await loop.run(reasons);
    if (r) record(r);
  };
  const scheduler = new Scheduler(turn, (err) => log(`reconcile crashed: ${errorMessage(err)}`));
  const debounceMs = options.watchDebounceMs ?? 1000;
  const watchers = new Watchers({
    fire: (reason) => scheduler.debounced(reason, debounceMs),
    isOwnWrite: () => applier.isOwnWrite(),
    active: () => !scheduler.stopping,
    env: env ?? process.env,
    log,
  });
  if (source.kind === "dir") watchers.watchSource((source as { root: string } & DesiredSource).root);
  return { log, stateDir, source, lock, journal, metrics, status, applier, scheduler, watchers, rollbacks, abort };
}

/** Crash recovery (an interrupted run is rolled back, then its revision is tried once more), then the timers. */
async function startUp(a: Agent, options: DaemonOptions): Promise<void> {
  try {
    const rec = await recoverUnfinished(a.applier.ctx);
    for (const r of rec.retry) {
      a.log(`retrying interrupted revision ${r.revision} once`);
      if (existsSync(r.dir)) await a.applier.apply(r.dir, r.revision);
    }
  } catch (err) {
    const message = `crash recovery failed: ${errorMessage(err)}`;
    a.status.failed(message);
    a.log(message);
  }
  await a.scheduler.trigger("start");
  const intervalMs = options.intervalMs ?? 30_000;
  a.scheduler.every("poll", () => jittered(intervalMs), { fixedRate: true });
  a.scheduler.every("drift", () => options.driftIntervalMs ?? a.applier.lastHost?.policy.driftIntervalMs.local ?? 60_000, { fixedRate: false });
  // A suspension ends by itself: look again when it is due.
  a.scheduler.every(
    "resume",
    () => {
      const s = readSuspension(a.journal);
      return s ? Math.max(200, Math.min(Date.parse(s.until) - Date.now() + 50, 10_000)) : 10_000;
    },
    { when: () => !!a.status.fields.suspension && !readSuspension(a.journal), fixedRate: false },
  );
}

function release(a: Agent): void {
  a.journal.close();
  a.lock.release();
  runningHere.delete(a.stateDir);
}

async function stopAgent(a: Agent, listener: { close(): Promise<void> }, startup: Promise<void>): Promise<void> {
  await a.scheduler.stop(() => a.abort.abort());
  a.rollbacks.refuseAll({ status: 503, body: { error: "the agent stopped before the rollback ran" } });
  await startup.catch(() => undefined);
  a.scheduler.clearTimers();
  await a.watchers.close();
  await listener.close();
  a.journal.set("daemon:url", undefined);
  a.status.unsubscribeAll();
  release(a);
  a.log("stopped");
}

export async function startDaemon(options: DaemonOptions): Promise<RunningDaemon> {
  const log = options.log ?? ((line: string) => process.stderr.write(`tack daemon: ${line}\n`));
  const listen = options.listen ?? "127.0.0.1:9469";
  requireUiToken(parseListen(listen).host, options.uiToken);
  const a = assemble(options, log);
  const page = { uiToken: options.uiToken, lastHost: () => a.applier.lastHost, env: options.env ?? process.env };
  const webhookSecret = options.webhookSecretFile ? fileSecret(options.webhookSecretFile) : () => options.webhookSecret;
  const handlers = controlHandlers({ ...a, webhookSecret, page });
  const listener = await startListener(listen, handlers, (err) => log(`listener: ${errorMessage(err)}`)).catch((err: unknown) => {
    release(a);
    throw err;
  });
  a.journal.set("daemon:url", listener.url);
  log(`listening on ${listener.url}; following ${a.source.description}`);
  const startup = startUp(a, options);
  let stopped: Promise<void> | undefined;
  return {
    url: listener.url,
    metrics: a.metrics,
    journal: a.journal,
    status: () => a.status.snapshot(),
    trigger: (reason) => a.scheduler.trigger(reason),
    stop: () => (stopped ??= stopAgent(a, listener, startup)),
  };
}

export function whoAmI(): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return hostname();
  }
}
