import { writeFile } from "node:fs/promises";
import { loadDesiredState, loadRepo } from "../../desired-state/index.js";
import { UserError } from "../../core/errors.js";
import type { Finding } from "../../core/findings.js";
import { ExecaRunner } from "../../core/runner.js";
import { offlinePlan } from "../../engine/offline-plan.js";
import type { Plan } from "../../engine/plan.js";
import { blockingFindings } from "../../engine/plan.js";
import { defaultHostName, dirRevision, planLive, resolveLive, type LivePlan } from "../../run/reconcile.js";
import { Journal } from "../../run/journal.js";
import { EMPTY_INVENTORY } from "../../core/inventory.js";
import { renderPlan, renderPullRequest, type PlanFormat } from "../../reports/render-plan.js";
import { buildSteps } from "../../engine/steps.js";
import type { ResolvedHost } from "../../core/resources.js";
import { stateDirOf } from "../context.js";
import { ExitCode, printFindings, type Output } from "../output.js";
import { requireDirectory } from "../repo-dir.js";

export interface PlanOptions {
  host?: string;
  ageIdentity?: string;
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

/**
 * The desired state, checked before anything on the host is looked at. Invalid: its diagnostics, as the same
 * `status: "invalid"` document a pull request plan gives in JSON, else as `file:line:column` lines on stderr.
 */
async function loadChecked(root: string, opts: PlanOptions, o: Output): Promise<ResolvedHost> {
  // A live plan keeps the parsed files in the state dir for the next process (desired-state/parsed-cache.ts).
  const cache = opts.offline ? {} : { stateDir: stateDirOf(opts.stateDir) };
  // A live plan of a fleet repo picks this machine's Host by name, as the agent does.
  const host = opts.host ?? (opts.offline ? undefined : defaultHostName((await loadRepo(root, cache)).hosts.map((h) => h.doc.metadata.name)));
  const r = await loadDesiredState(root, { ...cache, ...(host ? { host } : {}) });
  if (r.resolved) return r.resolved;
  renderInvalid(r.findings, await dirRevision(root), opts, o);
  throw new ExitCode(1);
}

function renderInvalid(diagnostics: Finding[], revision: string, opts: PlanOptions, o: Output): void {
  if (opts.format === "text") {
    o.err(`the desired state is invalid:`);
    printFindings(o, diagnostics);
    return;
  }
  o.out(renderPullRequest({ headRevision: revision, baseInvalid: false, diagnostics, files: [] }, opts.format).trimEnd());
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
    // A saved plan pins what was observed on this host; a pull request plan observed nothing.
    if (opts.out) throw new UserError("--out saves a live plan of this host for tack apply FILE; a pull request plan (--repo) cannot be saved: drop --out, or redirect the output");
    if (opts.offline) throw new UserError("--offline and --repo are two different plans: a pull request plan is always offline; drop --offline");
    if (opts.baseExact && !opts.base) throw new UserError("--base-exact needs --base REV");
    // Imported here: a pull request plan's git (simple-git) is no part of a live plan's start-up.
    const { planPullRequest } = await import("../../reports/pull-request-plan.js");
    const pr = await planPullRequest({ repo: opts.repo, head: opts.head, path: opts.path ?? ".", ...(opts.base ? { base: opts.base } : {}), ...(opts.baseExact ? { baseExact: true } : {}), ...(opts.host ? { host: opts.host } : {}) });
    if (pr.baseInvalid && opts.format === "text") o.err("note: the base revision's desired state is invalid; planning against an empty host");
    o.out(renderPullRequest(pr, opts.format).trimEnd());
    // An invalid head is a failure of the PR, like a blocking finding.
    if (!pr.plan || !pr.host) throw new ExitCode(1);
    exitCodeOf(pr.plan, pr.host, opts);
    return;
  }
  if (opts.out && opts.offline) throw new UserError("--out saves a live plan of this host for tack apply FILE; an --offline plan observed nothing to pin: drop --out, or --offline");
  const root = await requireDirectory(dir);
  const checked = await loadChecked(root, opts, o);
  if (opts.offline) {
    finish(offlinePlan(checked, undefined, await dirRevision(root)), checked, opts, o);
    return;
  }
  const stateDir = stateDirOf(opts.stateDir);
  // Read-only: the plan reads what tack owns (for prunes) from the state DB, and writes nothing there.
  const journal = Journal.openExisting(stateDir);
  const ctx = { runner: new ExecaRunner(), stateDir, journal: undefined as never, inventory: journal ?? EMPTY_INVENTORY, ...(opts.host ? { host: opts.host } : {}), ...(opts.ageIdentity ? { ageIdentity: opts.ageIdentity } : {}) };
  let lp: LivePlan, resolved: ResolvedHost, revision: string;
  try {
    resolved = await resolveLive(root, ctx);
    revision = await dirRevision(root);
    lp = await planLive(resolved, revision, ctx);
  } finally {
    journal?.close();
  }
  if (opts.out) {
    await writeFile(opts.out, JSON.stringify({ kind: "tack-saved-plan", dir: root, revision, fingerprint: lp.plan.fingerprint, host: resolved.host, createdAt: new Date().toISOString() }, null, 2) + "\n");
    o.err(`saved plan to ${opts.out}: apply it with tack apply ${opts.out}`);
  }
  finish(lp.plan, resolved, opts, o);
}
