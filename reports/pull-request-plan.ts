import path from "node:path";
import { simpleGit } from "simple-git";
import { loadDesiredState } from "../desired-state/index.js";
import { sortFindings, type Finding } from "../core/findings.js";
import type { ResolvedHost } from "../core/resources.js";
import type { Plan } from "../engine/plan.js";
import { offlinePlan } from "../engine/offline-plan.js";
import { checkoutRevision, mergeBase } from "../run/git-revision.js";
import { SECRET_NAME } from "../core/text.js";

/** A changed unit or compose file, as a unified diff between base and head (secrets masked). */
export interface FileDiff {
  path: string;
  status: "added" | "modified" | "deleted";
  diff: string;
}

/** What a pull request review shows: a plan between two revisions, or the head's diagnostics when it is invalid. */
export interface PullRequestPlan {
  baseRevision?: string;
  headRevision: string;
  /** The base could not be loaded: the plan is against an empty host (an invalid base is not the PR's fault). */
  baseInvalid: boolean;
  /** Absent when the head's desired state is invalid. */
  plan?: Plan;
  host?: ResolvedHost;
  /** The head's problems with file:line; non-empty (with an error) exactly when `plan` is absent. */
  diagnostics: Finding[];
  files: FileDiff[];
}

/** Revisions are shown shortened: 12 hex digits stay unique in any real repo and keep output stable. */
export function shortRevision(rev: string): string {
  return rev.slice(0, 12);
}

export interface PullRequestPlanOptions {
  repo: string;
  head: string;
  base?: string;
  /** Plan from `base` itself instead of its merge-base with `head` (what `git diff base head` compares). */
  baseExact?: boolean;
  /** The desired-state directory inside the repo. */
  path?: string;
  host?: string;
}

/**
 * Check out both revisions, load them, plan head against a host converged on base, and diff the runtime files.
 * The base is the merge-base of `base` and `head` (as `git diff base...head`) unless `baseExact`: planning
 * against the base branch's tip would show everything merged there since the branch point as being undone.
 */
export async function planPullRequest(opts: PullRequestPlanOptions): Promise<PullRequestPlan> {
  const sub = opts.path ?? ".";
  const baseRev = opts.base && !opts.baseExact ? await mergeBase(opts.repo, opts.base, opts.head) : opts.base;
  const head = await checkoutRevision(opts.repo, opts.head, sub);
  const base = baseRev ? await checkoutRevision(opts.repo, baseRev, sub) : undefined;
  try {
    const load = (dir: string) => loadDesiredState(dir, opts.host ? { host: opts.host } : {});
    const [h, b] = await Promise.all([load(head.dir), base ? load(base.dir) : Promise.resolve(undefined)]);
    const headRevision = shortRevision(head.revision);
    const files = await runtimeFileDiffs(opts.repo, sub, base?.revision, head.revision, [b?.resolved, h.resolved]);
    const common = { headRevision, baseInvalid: base !== undefined && !b?.resolved, files, ...(base ? { baseRevision: shortRevision(base.revision) } : {}) };
    const inRepo = repoRelative(sub);
    if (!h.resolved) return { ...common, diagnostics: sortFindings(h.findings.map(inRepo)) };
    const plan = offlinePlan(h.resolved, b?.resolved, headRevision);
    return { ...common, plan: { ...plan, findings: plan.findings.map(inRepo) }, host: h.resolved, diagnostics: sortFindings(h.findings.map(inRepo)) };
  } finally {
    await head.cleanup();
    await base?.cleanup();
  }
}

/** Findings locate files inside the desired-state dir; a reviewer reads paths of the repo (`infra/tack.yaml:12`). */
function repoRelative(sub: string): (f: Finding) => Finding {
  const prefix = path.posix.normalize(sub).replace(/^\.\/?|\/$/g, "");
  if (!prefix) return (f) => f;
  return (f) => (f.location ? { ...f, location: { ...f.location, file: path.posix.join(prefix, f.location.file) } } : f);
}

/** Repo-relative (to the desired-state dir) paths of the unit and compose files a resolved host uses. */
export function runtimeFiles(host: ResolvedHost): string[] {
  const out = new Set<string>();
  for (const u of host.resources["systemd.unit"]) out.add(u.file.path);
  for (const c of host.resources["compose.service"]) for (const f of c.files) out.add(path.relative(host.repoRoot, f));
  return [...out].sort();
}

async function runtimeFileDiffs(repo: string, sub: string, base: string | undefined, head: string, hosts: (ResolvedHost | undefined)[]): Promise<FileDiff[]> {
  const rel = new Set<string>();
  for (const h of hosts) if (h) for (const f of runtimeFiles(h)) rel.add(f);
  // An invalid head has no resolved host: still show the unit and compose files the PR touches.
  const fallback = hosts.every((h) => h === undefined) ? [path.posix.join(sub, "units"), path.posix.join(sub, "compose")] : [];
  const paths = [...[...rel].map((f) => path.posix.join(sub, f)), ...fallback];
  if (!paths.length) return [];
  const git = simpleGit(repo);
  const from = base ?? (await git.raw(["hash-object", "-t", "tree", "/dev/null"])).trim();
  const text = await git.raw(["diff", "--no-color", "--no-ext-diff", "--no-renames", "-U3", from, head, "--", ...paths]);
  return splitUnifiedDiff(text, sub);
}

/** One FileDiff per `diff --git` section, paths relative to the desired-state dir. */
export function splitUnifiedDiff(text: string, sub = "."): FileDiff[] {
  const out: FileDiff[] = [];
  const sections = text.split(/^(?=diff --git )/m).filter((s) => s.startsWith("diff --git "));
  for (const s of sections) {
    const lines = s.replace(/\n$/, "").split("\n");
    const m = /^diff --git a\/(.*) b\/(.*)$/.exec(lines[0]!);
    const file = m?.[2] ?? lines[0]!;
    const status = lines.some((l) => l.startsWith("new file mode")) ? "added" : lines.some((l) => l.startsWith("deleted file mode")) ? "deleted" : "modified";
    const hunk = lines.findIndex((l) => l.startsWith("--- ") || l.startsWith("Binary files"));
    const body = hunk < 0 ? [] : lines.slice(hunk);
    out.push({ path: path.posix.relative(sub === "." ? "" : sub, file), status, diff: body.map(maskSecretLine).join("\n") });
  }
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

// KEY=VALUE (unit Environment=, .env) and `key: value` (compose) lines whose key names a secret.
const SECRET_ASSIGNMENT = new RegExp(`^([+\\- ].*?\\b[\\w.-]*(?:${SECRET_NAME.source})[\\w.-]*"?\\s*[:=]\\s*)(\\S.*)$`, "i");

/** Mask the value of a diff line that assigns a secret; a `${VAR}` reference is not a secret and stays. */
export function maskSecretLine(line: string): string {
  if (line.startsWith("--- ") || line.startsWith("+++ ")) return line;
  const m = SECRET_ASSIGNMENT.exec(line);
  if (!m || /^["']?\$\{?\w+\}?["']?$/.test(m[2]!)) return line;
  return `${m[1]}(secret masked)`;
}
