import { ExecaRunner } from "../core/runner.js";
import type { DriversByKind } from "../core/kind.js";
import { Journal } from "../run/journal.js";
import { applyRevision, dirRevision, planLive, resolveLive, type ReconcileContext } from "../run/reconcile.js";
import { installSqliteCounter, sqliteCounts, statements } from "./sqlite-counter.js";

/**
 * Child process of bench/noop.ts, started on a converged sandbox host so that its peak RSS covers no-op
 * plans only. Env: BENCH_REPO, BENCH_STATE, BENCH_RUNS. Prints one JSON object: per-run figures with their
 * time windows (the parent counts Cloudflare requests from the emulator's log in those windows).
 */
export interface RunFigures {
  kind: "plan" | "plan-dns-due" | "apply";
  start: number;
  end: number;
  ms: number;
  processes: number;
  mutating: number;
  sqlite: number;
  changes: number;
  status?: string;
  /** What ran, grouped by command and first argument, with total time: where a no-op plan spends it. */
  commands: Record<string, { count: number; ms: number }>;
}

const repo = process.env.BENCH_REPO!;
const stateDir = process.env.BENCH_STATE!;
const runs = Number(process.env.BENCH_RUNS ?? "10");

installSqliteCounter();
const runner = new ExecaRunner();
const journal = new Journal(stateDir);
const ctx: ReconcileContext = { runner, stateDir, journal };
const out: RunFigures[] = [];

async function measure(kind: RunFigures["kind"], fn: () => Promise<{ changes: number; status?: string }>): Promise<void> {
  const h0 = runner.history.length;
  const m0 = runner.mutations().length;
  const s0 = statements(sqliteCounts());
  const start = Date.now();
  const t0 = performance.now();
  const r = await fn();
  const ms = performance.now() - t0;
  const end = Date.now();
  const commands: RunFigures["commands"] = {};
  for (const c of runner.history.slice(h0)) {
    const key = [c.file, ...c.args.filter((a) => !a.startsWith("-")).slice(0, c.file === "docker" ? 3 : 1)].join(" ");
    const e = (commands[key] ??= { count: 0, ms: 0 });
    e.count++;
    e.ms += Math.round(c.durationMs);
  }
  out.push({ kind, start, end, ms, processes: runner.history.length - h0, mutating: runner.mutations().length - m0, sqlite: statements(sqliteCounts()) - s0, commands, ...r });
}

let lastDrivers: DriversByKind | undefined;
const plan = async () => {
  const resolved = await resolveLive(repo, ctx);
  const lp = await planLive(resolved, await dirRevision(repo), ctx);
  lastDrivers = lp.drivers;
  return { changes: lp.plan.changes.length };
};
// The agent observes Cloudflare once per `dns.cloudflare.pollInterval` (its driver and cache outlive a reconcile):
// these runs make the DNS observation due first, as a drift check does once the interval has passed.
const planDnsDue = async () => {
  lastDrivers?.["cloudflare.record"]?.invalidate?.();
  return plan();
};
const apply = async () => {
  const o = await applyRevision({ dir: repo }, ctx);
  return { changes: o.plan?.changes.length ?? -1, status: o.status };
};

// One warm-up of each (module loading, first connections), not reported.
await plan();
await apply();
for (let i = 0; i < runs; i++) await measure("plan", plan);
for (let i = 0; i < runs; i++) await measure("plan-dns-due", planDnsDue);
for (let i = 0; i < runs; i++) await measure("apply", apply);
journal.close();
process.stdout.write(JSON.stringify({ runs: out, maxRssKb: process.resourceUsage().maxRSS }) + "\n");
