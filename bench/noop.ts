import { mkdir, mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { ExecaRunner } from "../core/runner.js";
import { Journal } from "../run/journal.js";
import { applyRevision, type ReconcileContext } from "../run/reconcile.js";
import { startCloudflareEmulator, type CloudflareEmulator } from "../sandbox/cloudflare-emulator/emulator.js";
import { islandflowHost } from "../sandbox/islandflow-host.js";
import { sandbox } from "../sandbox/sandbox-env.js";
import { generateRepo, SIZES, writeRepo, type BenchSize } from "./generate-repo.js";
import { measureCli } from "./cli-measure.js";
import { commandGroups, phaseTimes } from "./converge-breakdown.js";
import type { RunFigures } from "./noop-measure.js";
import { writeResult } from "./result-file.js";
import { constant, round, summarize } from "./stats.js";

/**
 * No-op reconcile benchmark, run inside the sandbox host (bench/run.ts starts it there). Converges each size
 * once with tack itself, then a fresh child process measures repeated no-op plans and applies.
 * Args: --sizes a,b[,c]  --runs N  [--profile DIR]
 */
const CF_TOKEN = "bench-cloudflare-token-0123456789";
const MEASURE = path.join(import.meta.dirname, "noop-measure.ts");

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
}

async function measureNoop(repo: string, stateDir: string, cf: CloudflareEmulator, runs: number) {
  // --profile DIR: the measuring process writes a V8 CPU profile there (open it in Chrome DevTools).
  const profile = arg("profile", "");
  const prof = profile ? ["--cpu-prof", "--cpu-prof-dir", path.resolve(profile)] : [];
  const r = await execa(process.execPath, [...prof, "--import", "tsx", MEASURE], {
    env: { ...process.env, BENCH_REPO: repo, BENCH_STATE: stateDir, BENCH_RUNS: String(runs) },
    stderr: "inherit",
  });
  const parsed = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { runs: RunFigures[]; maxRssKb: number };
  const cfIn = (f: RunFigures) => cf.log.filter((e) => e.time >= f.start && e.time <= f.end).length;
  const report = (kind: RunFigures["kind"]) => {
    const list = parsed.runs.filter((f) => f.kind === kind);
    return {
      wallMs: summarize(list.map((f) => f.ms)),
      processesPerRun: constant(list.map((f) => f.processes)),
      mutatingPerRun: constant(list.map((f) => f.mutating)),
      cloudflareRequestsPerRun: constant(list.map(cfIn)),
      sqliteStatementsPerRun: constant(list.map((f) => f.sqlite)),
      changes: constant(list.map((f) => f.changes)),
      commandsOfLastRun: list.at(-1)?.commands,
      ...(kind === "apply" ? { statuses: [...new Set(list.map((f) => f.status))] } : {}),
    };
  };
  const plan = report("plan");
  const planDnsDue = report("plan-dns-due");
  const apply = report("apply");
  if (plan.changes !== 0 || planDnsDue.changes !== 0 || apply.changes !== 0 || apply.statuses?.join() !== "no-changes") {
    throw new Error(`the host is not converged: plan changes ${JSON.stringify(plan.changes)}, apply ${JSON.stringify(apply.statuses)}`);
  }
  return { planLive: plan, planLiveDnsDue: planDnsDue, applyRevision: apply, peakRssMb: round(parsed.maxRssKb / 1024) };
}

/** `tack plan DIR` as a person types it on the converged host: a fresh compiled CLI process per run. */
async function measureCliPlan(repo: string, stateDir: string, runs: number) {
  const figures = await measureCli(["plan", repo, "--state-dir", stateDir, "--detailed-exitcode"], runs);
  if (figures.exitCodes.join() !== "0") throw new Error(`tack plan on the converged host: exit codes ${figures.exitCodes.join()} (0 = no changes)`);
  return figures;
}

interface Converge {
  ms: number;
  /** Time per phase, from the journal's steps of the converge run: summed over steps (lanes overlap, so more than wall time). */
  phasesMs?: Record<string, number>;
  /** Wall time per phase: first step's start to last step's end (plan = before the first step). */
  phasesWallMs?: Record<string, number>;
  /** Where the converge's processes spent their time: count and summed ms per command (commands.ts). */
  commands?: Record<string, { count: number; ms: number }>;
  processes: number;
  cloudflareRequests: number;
  status: string;
}

async function converge(repo: string, ctx: ReconcileContext, runner: ExecaRunner, cf: CloudflareEmulator): Promise<Converge> {
  const h0 = runner.history.length;
  const c0 = cf.log.length;
  const t0 = performance.now();
  const t0Wall = Date.now();
  const out = await applyRevision({ dir: repo }, ctx);
  const ms = performance.now() - t0;
  if (out.status !== "applied" && out.status !== "no-changes") throw new Error(`converge failed: ${out.status}: ${out.error ?? ""}`);
  const steps = out.runId ? ctx.journal.steps(out.runId) : [];
  return {
    ms: Math.round(ms),
    ...phaseTimes(steps, t0Wall),
    ...(process.env.BENCH_DUMP_STEPS ? { steps } : {}),
    commands: commandGroups(runner.history.slice(h0)),
    processes: runner.history.length - h0,
    cloudflareRequests: cf.log.length - c0,
    status: out.status,
  };
}

async function sizeA(runs: number) {
  const h = await islandflowHost();
  try {
    const conv = await converge(h.repo, h.ctx, h.runner, h.cf);
    const noop = await measureNoop(h.repo, h.stateDir, h.cf, runs);
    const cliPlan = await measureCliPlan(h.repo, h.stateDir, runs);
    return { size: "a: the islandflow example (4 scopes, 2 proxy hosts, 4 UFW rules + derived, 2 DNS records)", converge: conv, ...noop, cliPlan };
  } finally {
    await h.close();
  }
}

async function sizesBC(which: ("b" | "c")[], runs: number) {
  const sb = sandbox({ parts: ["systemd", "docker", "ufw", "npm"] });
  const base = await mkdtemp(path.join(sb.dir, "bench-"));
  const dataRoot = path.join(base, "data");
  const stateDir = path.join(base, "state");
  await mkdir(dataRoot, { recursive: true });
  const cf = await startCloudflareEmulator({ token: CF_TOKEN, zones: [{ name: "example.org" }] });
  process.env.CLOUDFLARE_API_TOKEN = CF_TOKEN;
  process.env.CLOUDFLARE_BASE_URL = cf.baseURL;
  const runner = new ExecaRunner();
  const journal = new Journal(stateDir);
  const ctx: ReconcileContext = { runner, stateDir, journal };
  const results = [];
  try {
    // c is a superset of b (generate-repo.test.ts checks it): converging c after b only adds the rest.
    for (const key of which) {
      const size: BenchSize = SIZES[key];
      const repo = path.join(base, `repo-${key}`);
      await writeRepo(repo, generateRepo({ size, npmDataDir: sb.npmData!, dataRoot }));
      process.stderr.write(`bench noop ${key}: converging ${size.name}\n`);
      const conv = await converge(repo, ctx, runner, cf);
      process.stderr.write(`bench noop ${key}: converged in ${conv.ms} ms; measuring ${runs} no-op plans and applies\n`);
      const noop = await measureNoop(repo, stateDir, cf, runs);
      const cliPlan = await measureCliPlan(repo, stateDir, runs);
      results.push({ size: size.name, counts: size, converge: { ...conv, incrementalFrom: which.indexOf(key) > 0 ? which[which.indexOf(key) - 1] : undefined }, ...noop, cliPlan });
    }
  } finally {
    journal.close();
    await cf.close();
    await rm(base, { recursive: true, force: true }).catch(() => undefined);
  }
  return results;
}

// Size c is opt-in: converging it through tack takes far longer than the benchmark budget (see README).
const sizes = arg("sizes", "a,b").split(",");
const runs = Number(arg("runs", "10"));
const results = [];
if (sizes.includes("a")) results.push(await sizeA(runs));
const bc = sizes.filter((s): s is "b" | "c" => s === "b" || s === "c");
if (bc.length) results.push(...(await sizesBC(bc, runs)));
const cliVersion = await measureCli(["--version"], runs);
await writeResult("noop", { runsPerMeasurement: runs, cliVersion, sizes: results });
