import { existsSync } from "node:fs";
import path from "node:path";
import { UserError } from "../core/errors.js";
import { applyRevision, type ApplyOutcome, type ReconcileContext } from "./reconcile.js";

export interface ManualRollback {
  from: string | undefined;
  to: string;
  outcome: ApplyOutcome;
}

/**
 * `tack rollback`'s work, for the CLI (agent stopped) and for the agent (POST /rollback): apply an earlier good
 * revision from its snapshot in the state dir (default: the good revision before the current one). On success the
 * target becomes the newest good revision and the one rolled away from is marked failed, so the agent does not
 * apply it again until a newer commit arrives (design.md Decisions) and heals toward the target meanwhile.
 */
export async function rollbackToGoodRevision(ctx: ReconcileContext, options: { to?: string; by?: string } = {}): Promise<ManualRollback> {
  const journal = ctx.journal;
  const current = journal.lastGoodRevision();
  const goods = (journal.db.prepare("SELECT revision FROM revisions WHERE status = 'good' ORDER BY at DESC, rowid DESC").all() as { revision: string }[]).map((r) => r.revision);
  const wanted = options.to;
  const target = wanted ? (goods.find((g) => g === wanted || (wanted.length >= 7 && g.startsWith(wanted))) ?? wanted) : goods.find((g) => g !== current);
  if (!target) throw new UserError("no earlier good revision to roll back to (tack rollback --to REV names one)");
  const dir = path.join(ctx.stateDir, "revisions", target);
  if (!existsSync(dir)) throw new UserError(`no snapshot of ${target} in ${path.dirname(dir)} (only the last applied revisions are kept)`);
  const outcome = await applyRevision({ dir, revision: target }, ctx);
  if (outcome.status === "applied" || outcome.status === "no-changes") {
    const by = options.by ? ` (${options.by})` : "";
    // Marked after applying: a target that was already converged still becomes the newest good revision.
    journal.setRevision(target, "good", `rolled back to by tack rollback${by}`);
    if (current && current !== target) journal.setRevision(current, "failed", `rolled back from by tack rollback${by} to ${target}`);
  }
  return { from: current, to: target, outcome };
}
