import { readFile } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline/promises";
import { errorMessage, failureClass, UserError } from "../../core/errors.js";
import { StateLock } from "../../run/lock.js";
import { applyRevision, recoverUnfinished, type ApplyOutcome, type ApplyRequest, type ReconcileContext } from "../../run/reconcile.js";
import { liveContext, stateDirOf } from "../context.js";
import { ExitCode, type Output } from "../output.js";

export interface ApplyOptions {
  yes?: boolean;
  host?: string;
  stateDir?: string;
  ageIdentity?: string;
}

async function ask(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

async function savedPlan(file: string): Promise<{ dir: string; revision: string; fingerprint: string } | undefined> {
  if (!file.endsWith(".json")) return undefined;
  const data = JSON.parse(await readFile(file, "utf8")) as { kind?: string; dir: string; revision: string; fingerprint: string };
  if (data.kind !== "tack-saved-plan") throw new UserError(`${file} is not a plan saved by tack plan --out`);
  return data;
}

/**
 * Fault injection for crash tests: TACK_FAULT_KILL_BEFORE_PHASE=<phase> makes this process SIGKILL itself when a
 * step of that phase has been journaled as started and before it runs — a real crash, not an exception.
 */
function faultInjection(): Partial<ReconcileContext> {
  const phase = process.env.TACK_FAULT_KILL_BEFORE_PHASE;
  if (!phase) return {};
  return {
    beforeStep: (step) => {
      if (step.phase === phase) process.kill(process.pid, "SIGKILL");
    },
  };
}

export async function applyCommand(target: string, opts: ApplyOptions, o: Output): Promise<void> {
  const stateDir = stateDirOf(opts.stateDir);
  const saved = await savedPlan(target);
  if (!opts.yes && !process.stdin.isTTY) throw new UserError("tack apply asks before changing the host; with no terminal to ask on, pass --yes");
  const lock = StateLock.acquire(stateDir, `tack apply ${target}`);
  const ctx = liveContext(stateDir, o, { ...(opts.host ? { host: opts.host } : {}), ...(opts.ageIdentity ? { ageIdentity: opts.ageIdentity } : {}), ...faultInjection() });
  try {
    const recovery = await recoverUnfinished(ctx);
    for (const id of recovery.recovered) o.out(`run ${id} had been interrupted: the host was rolled back to its last good state`);
    for (const r of recovery.retry) o.out(`the interrupted revision ${r.revision} is tried again once`);
    const req: ApplyRequest = saved
      ? { dir: saved.dir, revision: saved.revision, expectFingerprint: saved.fingerprint }
      : { dir: path.resolve(target) };
    if (!opts.yes) req.confirm = async () => ask("Apply these changes? (yes/no) ");
    const outcome = await applyRevision(req, ctx).catch((err: unknown): ApplyOutcome => {
      // Stopped before any step ran (observing Cloudflare, NPM's bridge...): not the revision's fault either.
      const cls = failureClass(err);
      if (cls === "failure") throw err;
      return { status: "failed-transient", failureClass: cls, revision: req.revision ?? "this revision", error: errorMessage(err), cutovers: [] };
    });
    switch (outcome.status) {
      case "no-changes":
        o.out(`No changes. ${outcome.revision} is applied.`);
        return;
      case "skipped":
        o.out("Not applied.");
        return;
      case "applied":
        o.out(`Applied ${outcome.revision}.`);
        return;
      case "rolled-back":
        o.err(`Apply of ${outcome.revision} failed and was rolled back: ${outcome.error}`);
        throw new ExitCode(1);
      case "failed-transient":
        o.err(
          `Apply of ${outcome.revision} stopped (${outcome.failureClass === "host" ? "a problem of this host" : "a transient failure"}): ${outcome.error}\n` +
            `The revision is not marked bad: run tack apply again${outcome.failureClass === "host" ? " once the host is fixed" : " later"}.`,
        );
        throw new ExitCode(1);
      default:
        o.err(`Apply of ${outcome.revision} failed (${outcome.error}) and the rollback failed too: ${outcome.rollbackError}`);
        throw new ExitCode(1);
    }
  } finally {
    ctx.journal.close();
    lock.release();
  }
}
