import { writeFile } from "node:fs/promises";
import path from "node:path";
import { loadDesiredState } from "../../desired-state/index.js";
import { UserError } from "../../core/errors.js";
import { ExecaRunner } from "../../core/runner.js";
import { offlinePlan } from "../../engine/offline-plan.js";
import { planPullRequest } from "../../reports/pull-request-plan.js";
import type { Plan } from "../../engine/plan.js";
import { blockingFindings } from "../../engine/plan.js";
import { dirRevision, planLive, resolveLive } from "../../run/reconcile.js";
import { renderPlan, renderPullRequest, type PlanFormat } from "../../reports/render-plan.js";
import { buildSteps } from "../../engine/steps.js";
import type { ResolvedHost } from "../../core/resources.js";
import { stateDirOf } from "../context.js";
import { ExitCode, printFindings, type Output } from "../output.js";

export interface PlanOptions {
  host?: string;
  format: PlanFormat;
  detailedExitcode?: boolean;
  offline?: boolean;
  repo?: string;
  base?: string;
  baseExact?: boolean;
  head?: string;
  path?: string;
  out?: string;
  stateDir?: string;
}

async function loadOffline(dir: string, host: string | undefined, o: Output, label: string): Promise<ResolvedHost> {
  const r = await loadDesiredState(dir, host ? { host } : {});
  if (!r.resolved) {
    o.err(`${label}: the desired state is invalid:`);
    printFindings(o, r.findings);
    throw new ExitCode(1);
  }
  return r.resolved;
}

function finish(plan: Plan, host: ResolvedHost, opts: PlanOptions, o: Output): void {
  o.out(renderPlan(plan, host, opts.format).trimEnd());
  exitCodeOf(plan, host, opts);
}

/** Exit codes: 1 when a finding blocks; with --detailed-exitcode 0 = no changes, 2 = changes. */
function exitCodeOf(plan: Plan, host: ResolvedHost, opts: PlanOptions): void {
  if (blockingFindings(plan).length) throw new ExitCode(1);
  if (opts.detailedExitcode && buildSteps(plan, host).length + plan.changes.length > 0) throw new ExitCode(2);
}

export async function planCommand(dir: string, opts: PlanOptions, o: Output): Promise<void> {
  if (opts.repo || opts.base || opts.head) {
    if (!opts.repo || !opts.head) throw new UserError("a pull request plan needs --repo PATH --head REV (and usually --base REV)");
    const pr = await planPullRequest({ repo: opts.repo, head: opts.head, path: opts.path ?? ".", ...(opts.base ? { base: opts.base } : {}), ...(opts.baseExact ? { baseExact: true } : {}), ...(opts.host ? { host: opts.host } : {}) });
    if (pr.baseInvalid && opts.format === "text") o.err("note: the base revision's desired state is invalid; planning against an empty host");
    o.out(renderPullRequest(pr, opts.format).trimEnd());
    // An invalid head is a failure of the PR, like a blocking finding.
    if (!pr.plan || !pr.host) throw new ExitCode(1);
    exitCodeOf(pr.plan, pr.host, opts);
    return;
  }
  const root = path.resolve(dir);
  if (opts.offline) {
    const host = await loadOffline(root, opts.host, o, root);
    finish(offlinePlan(host, undefined, await dirRevision(root)), host, opts, o);
    return;
  }
  const stateDir = stateDirOf(opts.stateDir);
  const ctx = { runner: new ExecaRunner(), stateDir, journal: undefined as never, ...(opts.host ? { host: opts.host } : {}) };
  const resolved = await resolveLive(root, ctx);
  const revision = await dirRevision(root);
  const lp = await planLive(resolved, revision, ctx);
  if (opts.out) {
    await writeFile(opts.out, JSON.stringify({ kind: "tack-saved-plan", dir: root, revision, fingerprint: lp.plan.fingerprint, host: resolved.host, createdAt: new Date().toISOString() }, null, 2) + "\n");
    o.err(`saved plan to ${opts.out}: apply it with tack apply ${opts.out}`);
  }
  finish(lp.plan, resolved, opts, o);
}
