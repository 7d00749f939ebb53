import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { RESULTS_DIR } from "./result-file.js";

/** Renders bench/results/*.json as the tables between the markers of bench/README.md. */
const README = path.join(import.meta.dirname, "README.md");
const START = "<!-- results:start -->";
const END = "<!-- results:end -->";

type J = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function load(name: string): Promise<J | undefined> {
  return JSON.parse(await readFile(path.join(RESULTS_DIR, `${name}.json`), "utf8").catch(() => "null")) ?? undefined;
}

const fmt = (v: unknown) => (Array.isArray(v) ? v.join(" / ") : String(v ?? "—"));
const table = (head: string[], rows: unknown[][]) =>
  [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.map(fmt).join(" | ")} |`)].join("\n");

const secs = (ms: number | undefined) => (ms === undefined ? undefined : Math.round(ms) / 1000);
/** The 1-minute load average when a result was written (results from before it was recorded have none). */
const load1 = (r: J | undefined) => (Array.isArray(r?.loadAverage) ? `; load ${r.loadAverage[0]}` : "");

/** The agent with the shipped unit file's node flags, then plain node, each over an hour's worth of drift checks. */
function agentFigure(ag: J | undefined): string | undefined {
  const [unit, plain] = (ag?.runs ?? []) as J[];
  if (!unit) return undefined;
  return `${unit.peakRssMb} MB peak, ${unit.maxRssAfterFirstReconcileMb} MB after start-up (${unit.driftChecks} drift checks, ${unit.dnsListRequests} DNS lists; tack.service's flags${plain ? `; plain node ${plain.peakRssMb} MB` : ""}${load1(ag)})`;
}

/** The figures issue 18 sets targets for, from whichever results exist (— where a benchmark has not run). */
async function targetsTable(): Promise<string[]> {
  const n = await load("noop");
  const l = await load("latency");
  const c = await load("ansible");
  const ag = await load("agent");
  const size = (k: string) => (n?.sizes as J[] | undefined)?.find((s) => String(s.size).startsWith(`${k}:`));
  const cli = (k: string) => size(k)?.cliPlan?.wallMs?.median as number | undefined;
  const ansibleNoop = c?.ansibleRun?.noopMs?.median as number | undefined;
  const day = (r: J | undefined) => String(r?.finishedAt ?? "").slice(0, 10);
  // Ansible's figure may come from another run than the CLI's: say which, so the ratio is read for what it is.
  const ansibleDay = String(c?.ansibleMeasuredAt ?? c?.finishedAt ?? "").slice(0, 10);
  const sameRun = c && n && ansibleDay === day(n);
  const vsAnsible = cli("a") && ansibleNoop ? ` (${Math.round((ansibleNoop / cli("a")!) * 10) / 10}× faster than Ansible's no-op, ${secs(ansibleNoop)} s${sameRun ? "" : `, Ansible measured ${ansibleDay}`})` : "";
  const v = n?.cliVersion;
  const rows: unknown[][] = [
    ["`tack --version` (fresh process, median; peak RSS)", "~2 s, 190 MB", "≤ 0.3 s, ≤ 70 MB", v ? `${secs(v.wallMs.median)} s, ${v.peakRssMb} MB${load1(n)}` : undefined],
    ["CLI no-op `tack plan`, islandflow (size a)", "7.6 s", "≤ 0.5 s (≥ 13× faster than Ansible's no-op)", cli("a") ? `${secs(cli("a"))} s${vsAnsible}${load1(n)}` : undefined],
    ["CLI no-op `tack plan`, size b", "7.2 s", "≤ 0.8 s", secs(cli("b")) !== undefined ? `${secs(cli("b"))} s${load1(n)}` : undefined],
    ["CLI no-op `tack plan`, size c", "11.5 s", "≤ 1.5 s", secs(cli("c")) !== undefined ? `${secs(cli("c"))} s${load1(n)}` : undefined],
    ["agent peak RSS, size b, after drift checks", "256 MB", "≤ 100 MB", agentFigure(ag)],
    ["first converge, size b", "102 s", "≤ 20 s", size("b")?.converge && !size("b")!.converge.incrementalFrom ? `${secs(size("b")!.converge.ms)} s${load1(n)}` : undefined],
    ["webhook to converged, edge-only (median)", "2.8 s", "≤ 1 s", l?.webhook ? `${secs(l.webhook.edgeOnlyMs.median)} s (${day(l)}${load1(l)})` : undefined],
    ["hand edit of NPM's DB healed by the agent", "37 s", "≤ 5 s", l?.npmDbHealMs !== undefined ? `${secs(l.npmDbHealMs.median ?? l.npmDbHealMs)} s${load1(l)}` : undefined],
    ["islandflow cutover to native, minus Docker's stop grace", "—", "≤ 3 s", c?.tack?.cutoverMs !== undefined && c.tack.stopGraceMs !== undefined ? `${secs(c.tack.cutoverMs - c.tack.stopGraceMs)} s (${secs(c.tack.cutoverMs)} s in all, stop grace ${secs(c.tack.stopGraceMs)} s; ${day(c)})` : c?.tack?.cutoverMs !== undefined ? `not split: ${secs(c.tack.cutoverMs)} s in all, grace included (${day(c)})` : undefined],
  ];
  return ["### Targets (issue 18)", "", table(["figure", "before", "target", "this run"], rows), ""];
}

export async function renderTables(): Promise<string> {
  const out: string[] = [...(await targetsTable())];
  const m = await load("machine");
  if (m) {
    out.push("### Machine and versions", "", table(["", ""], [
      ["nproc", m.machine.nproc],
      ["memory", `${m.machine.memoryGiB} GiB`],
      ["CPU", m.machine.cpu],
      ["kernel", m.machine.kernel],
      ["load average at the end (1/5/15 min)", m.machine.loadAverage],
      ...Object.entries(m.versions as Record<string, string>).map(([k, v]) => [k, v]),
    ]), "");
  }
  const n = await load("noop");
  if (n) {
    out.push(`### No-op reconcile (${n.runsPerMeasurement} runs each, after one warm-up; ${n.finishedAt})`, "");
    const rows: unknown[][] = [];
    for (const s of n.sizes as J[]) {
      for (const [label, k] of [["planLive", "planLive"], ["planLive, DNS observation due", "planLiveDnsDue"], ["applyRevision (no-changes)", "applyRevision"]] as const) {
        const r = s[k];
        if (!r) continue; // results from before the DNS-due runs existed
        rows.push([s.size.split(":")[0], label, r.wallMs.median, r.wallMs.p95, r.processesPerRun, r.cloudflareRequestsPerRun, r.sqliteStatementsPerRun, r.mutatingPerRun, s.peakRssMb]);
      }
    }
    out.push(table(["size", "what", "median ms", "p95 ms", "processes", "CF requests", "SQLite statements", "mutating cmds", "peak RSS MB (measuring process)"], rows), "");
    const sizes = n.sizes as J[];
    if (sizes.length > 1) {
      const across = (k: string, f: string) => sizes.map((s) => JSON.stringify(s[k][f]));
      const verdict = (vals: string[]) => (new Set(vals).size === 1 ? `constant (${vals[0]})` : `NOT constant (${vals.join(" → ")})`);
      out.push(
        `Across sizes ${sizes.map((s) => s.size.split(":")[0]).join(", ")} — processes per no-op plan: ${verdict(across("planLive", "processesPerRun"))}; ` +
          `per no-op apply: ${verdict(across("applyRevision", "processesPerRun"))}; Cloudflare requests per plan: ${verdict(across("planLive", "cloudflareRequestsPerRun"))}; ` +
          `per apply: ${verdict(across("applyRevision", "cloudflareRequestsPerRun"))}` +
          (sizes.every((s) => s.planLiveDnsDue) ? `; per plan with the DNS observation due: ${verdict(across("planLiveDnsDue", "cloudflareRequestsPerRun"))}.` : "."),
        "",
      );
    }
    const clis = (n.sizes as J[]).filter((s) => s.cliPlan);
    if (clis.length || n.cliVersion) {
      out.push("Fresh processes of the compiled CLI (`node bin/tack.js`, what a person types), wall time and peak RSS:", "");
      out.push(table(["command", "median ms", "p95 ms", "peak RSS MB"], [
        ...(n.cliVersion ? [["tack --version", n.cliVersion.wallMs.median, n.cliVersion.wallMs.p95, n.cliVersion.peakRssMb]] : []),
        ...clis.map((s) => [`tack plan (size ${s.size.split(":")[0]}, converged host)`, s.cliPlan.wallMs.median, s.cliPlan.wallMs.p95, s.cliPlan.peakRssMb]),
      ]), "");
    }
    // Wall time per phase where the results have it (scope lanes overlap: summed step times over-count them).
    const phases = (c: J) => Object.entries((c.phasesWallMs ?? c.phasesMs ?? {}) as Record<string, number>).map(([p, ms]) => `${p} ${Math.round(ms / 100) / 10}`).join(", ");
    const topCommands = (c: J) => Object.entries((c.commands ?? {}) as Record<string, { count: number; ms: number }>).slice(0, 4).map(([k, v]) => `${k} ×${v.count} ${Math.round(v.ms / 100) / 10}`).join(", ");
    out.push(table(["size", "first converge ms", "processes", "CF requests", "wall time by phase (s)", "slowest commands (count, summed s)"], (n.sizes as J[]).map((s) => [s.size, s.converge.ms + (s.converge.incrementalFrom ? ` (from ${s.converge.incrementalFrom})` : ""), s.converge.processes, s.converge.cloudflareRequests, phases(s.converge), topCommands(s.converge) || "—"])), "");
  }
  const a = await load("availability");
  if (a) {
    out.push(`### Availability during cutovers (${a.ratePerSecond} req/s through NPM; ${a.finishedAt})`, "");
    const win = (o: J) => (o.window ? `\`${o.window.length > 12 ? `${o.window.slice(0, 3)}…${o.window.slice(-6)}` : o.window}\`` : "");
    out.push(table(["cutover", "handoff", "requests", "failed", "unavailability ms", "one contiguous window", "window (x failed, . ok)", "apply ms"], [
      ...(a.overlap as J[]).map((o) => [o.cutover, "overlap", o.requests, o.failed, o.unavailabilityMs, o.contiguous, win(o), o.applyMs]),
      ...(a.exclusive as J[]).map((o) => [o.cutover, "exclusive", o.requests, o.failed, o.unavailabilityMs, o.contiguous, win(o), o.applyMs]),
    ]), "");
  }
  const l = await load("latency");
  if (l) {
    out.push(`### Push-to-converged latency (${l.finishedAt})`, "");
    out.push(table(["trigger", "edge-only change: median ms (min–max)", "exclusive cutover ms", "note"], ["webhook", "poll"].filter((k) => l[k]).map((k) => [k, `${l[k].edgeOnlyMs.median} (${l[k].edgeOnlyMs.min}–${l[k].edgeOnlyMs.max})`, l[k].exclusiveCutoverMs, l[k].note])), "");
  }
  const ag = await load("agent");
  if (ag?.runs) {
    out.push(`### Agent memory (${ag.size}; ${ag.finishedAt}, load ${fmt(ag.loadAverage)})`, "");
    out.push(table(["agent", "drift checks", "DNS lists", "wall s", "drift check ms (median, p95)", "peak RSS MB (VmHWM)", "max RSS MB after the first reconcile", "final RSS MB"], (ag.runs as J[]).map((r) => [
      `${r.label}: \`${r.command}\`${Object.keys(r.env ?? {}).length ? ` with ${Object.entries(r.env as Record<string, string>).map(([k, v]) => `${k}=${v}`).join(" ")}` : ""}`,
      r.driftChecks, r.dnsListRequests, r.wallSeconds, `${r.driftCheckMs?.median}, ${r.driftCheckMs?.p95}`, r.peakRssMb, r.maxRssAfterFirstReconcileMb, r.finalRssMb,
    ])), "");
  }
  const c = await load("ansible");
  if (c) {
    out.push(`### tack and Ansible side by side (${c.ansible}; ${c.ansibleMeasuredAt ? `tack ${c.finishedAt}, Ansible ${c.ansibleMeasuredAt}` : c.finishedAt})`, "");
    out.push(table(["", "tack ms", "Ansible ms", "tack / Ansible"], [
      ["first converge (all on Docker)", c.tack.converge.ms, c.ansibleRun.converge.ms, c.ratios.converge],
      ["no-op run (median)", c.tack.noopMs.median, c.ansibleRun.noopMs.median, c.ratios.noopMedian],
      ["cutover docker → native (4 scopes)", c.tack.cutoverMs, c.ansibleRun.cutoverMs, c.ratios.cutover],
      ...(c.tack.stopGraceMs !== undefined ? [["of which waiting for containers to stop (Docker's events)", c.tack.stopGraceMs, c.ansibleRun.stopGraceMs ?? "—", ""]] : []),
    ]), "");
  }
  return out.join("\n");
}

export async function writeReadmeTables(): Promise<void> {
  const text = await readFile(README, "utf8");
  const i = text.indexOf(START);
  const j = text.indexOf(END);
  if (i < 0 || j < i) throw new Error(`${README} lacks the ${START} / ${END} markers`);
  await writeFile(README, `${text.slice(0, i + START.length)}\n\n${await renderTables()}\n${text.slice(j)}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) await writeReadmeTables();
