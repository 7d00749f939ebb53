import { existsSync } from "node:fs";
import path from "node:path";
import { UserError } from "../../core/errors.js";
import { StateLock } from "../../lock.js";
import { applyRevision } from "../../reconcile.js";
import { liveContext, stateDirOf } from "../context.js";
import { ExitCode, type Output } from "../output.js";

export interface RollbackOptions {
  to?: string;
  host?: string;
  stateDir?: string;
}

/**
 * `tack rollback [--to REV]`: apply an earlier good revision from its snapshot in the state dir (default: the
 * good revision before the current one). The revision rolled away from is marked failed, so the agent does not
 * apply it again until a newer commit arrives (design.md Decisions), and heals toward the rollback target.
 */
export async function rollbackCommand(opts: RollbackOptions, o: Output): Promise<void> {
  const stateDir = stateDirOf(opts.stateDir);
  const lock = StateLock.acquire(stateDir, "tack rollback");
  const ctx = liveContext(stateDir, o, opts.host ? { host: opts.host } : {});
  try {
    const current = ctx.journal.lastGoodRevision();
    const goods = (ctx.journal.db.prepare("SELECT revision FROM revisions WHERE status = 'good' ORDER BY at DESC, rowid DESC").all() as { revision: string }[]).map((r) => r.revision);
    let target = opts.to;
    if (target) target = goods.find((g) => g === target || (target!.length >= 7 && g.startsWith(target!))) ?? target;
    else target = goods.find((g) => g !== current);
    if (!target) throw new UserError("no earlier good revision to roll back to (tack rollback --to REV names one)");
    const dir = path.join(stateDir, "revisions", target);
    if (!existsSync(dir)) throw new UserError(`no snapshot of ${target} in ${path.dirname(dir)} (only the last applied revisions are kept)`);
    o.out(`Rolling back from ${current ?? "nothing"} to ${target}.`);
    const outcome = await applyRevision({ dir, revision: target }, ctx);
    if (outcome.status !== "applied" && outcome.status !== "no-changes") {
      o.err(`Rollback to ${target} failed: ${outcome.error ?? outcome.status}${outcome.rollbackError ? `; then: ${outcome.rollbackError}` : ""}`);
      throw new ExitCode(1);
    }
    // Mark after applying: a target that was already converged still becomes the newest good revision.
    ctx.journal.setRevision(target, "good", "rolled back to by tack rollback");
    if (current && current !== target) ctx.journal.setRevision(current, "failed", `rolled back from by tack rollback to ${target}`);
    o.out(`Rolled back to ${target}.`);
  } finally {
    ctx.journal.close();
    lock.release();
  }
}
