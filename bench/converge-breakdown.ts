import type { CommandRecord } from "../core/runner.js";

/**
 * Where a converge spends its time, for the benchmark's tables: per phase (summed over steps, and as wall time
 * from its first step's start to its last step's end, since scope lanes overlap), and per command.
 */
interface StepTimes {
  phase: string;
  started_at: string;
  finished_at: string | null;
}

export function phaseTimes(steps: StepTimes[], runStartMs: number): { phasesMs: Record<string, number>; phasesWallMs: Record<string, number> } {
  const phasesMs: Record<string, number> = {};
  const spans: Record<string, [number, number]> = {};
  let firstStart = Infinity;
  for (const st of steps) {
    if (!st.finished_at) continue;
    const a = Date.parse(st.started_at);
    const b = Date.parse(st.finished_at);
    firstStart = Math.min(firstStart, a);
    phasesMs[st.phase] = (phasesMs[st.phase] ?? 0) + (b - a);
    const s = spans[st.phase];
    spans[st.phase] = s ? [Math.min(s[0], a), Math.max(s[1], b)] : [a, b];
  }
  const phasesWallMs: Record<string, number> = {};
  if (firstStart !== Infinity) phasesWallMs.plan = firstStart - runStartMs;
  for (const [p, [a, b]] of Object.entries(spans)) phasesWallMs[p] = b - a;
  return { phasesMs, phasesWallMs };
}

// Options whose value is the next argument (compose's project and files, systemctl's properties).
const TAKES_VALUE = new Set(["-p", "-f", "--file", "--project-name", "--env-file", "--project-directory", "--profile", "-H", "--host"]);

/** A command's group: the program and its verb (`systemctl start`, `docker compose up`), options left out. */
export function commandGroup(r: Pick<CommandRecord, "file" | "args">): string {
  const words = [r.file.split("/").at(-1)!];
  const verbs: string[] = [];
  for (let i = 0; i < r.args.length; i++) {
    const a = r.args[i]!;
    if (TAKES_VALUE.has(a)) i++;
    else if (!a.startsWith("-")) verbs.push(a);
  }
  if (words[0] === "docker" && verbs[0] === "compose") words.push(verbs.shift()!);
  if (verbs[0] !== undefined && /^[a-z][a-z-]*$/.test(verbs[0])) words.push(verbs[0]);
  return words.join(" ");
}

export function commandGroups(history: readonly CommandRecord[]): Record<string, { count: number; ms: number }> {
  const out: Record<string, { count: number; ms: number }> = {};
  for (const r of history) {
    const g = (out[commandGroup(r)] ??= { count: 0, ms: 0 });
    g.count++;
    g.ms += Math.round(r.durationMs);
  }
  return Object.fromEntries(Object.entries(out).sort(([, a], [, b]) => b.ms - a.ms));
}
