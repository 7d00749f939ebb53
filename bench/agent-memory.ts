import { cp, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { execa, type ResultPromise } from "execa";
import { ExecaRunner } from "../core/runner.js";
import { Journal } from "../run/journal.js";
import { applyRevision } from "../run/reconcile.js";
import { startCloudflareEmulator, type CloudflareEmulator } from "../sandbox/cloudflare-emulator/emulator.js";
import { sandbox } from "../sandbox/sandbox-env.js";
import { generateRepo, SIZES, writeRepo } from "./generate-repo.js";
import { writeResult } from "./result-file.js";
import { round, summarize } from "./stats.js";

/**
 * The agent's memory at bench size b over an hour's worth of drift checks, run inside the sandbox host
 * (bench/run.ts starts it there). tack converges size b once; then the compiled agent (`node bin/tack.js
 * daemon`, as the package installs it) follows a bare git repo holding it, in a process of its own, with
 * `--drift-interval 1s` and `dns.cloudflare.pollInterval: 5s`: the same 1 : 5 ratio of local drift checks to
 * DNS observations as the defaults (1m, 5m), run until it has made at least an hour's worth of both (60 and 12).
 * Twice: with the node flags and environment of examples/systemd/tack.service, and with plain `node`.
 * Per run: peak RSS over the process's life (VmHWM, start-up included), the highest RSS seen once the first
 * reconcile was done (sampled every 100 ms), the drift checks and DNS list requests made, and their durations.
 */
const CF_TOKEN = "bench-cloudflare-token-0123456789";
const BIN = path.resolve(import.meta.dirname, "../bin/tack.js");
const UNIT = path.resolve(import.meta.dirname, "../examples/systemd/tack.service");
const PORT = 19469;
/** An hour at the defaults: drift every 1m, DNS every 5m. */
const HOUR_OF_DRIFT = 60;
const HOUR_OF_DNS = 12;
const TIMEOUT_MS = 8 * 60_000;

/** The node flags before tack's path in ExecStart, and the Environment= lines, of the shipped unit file. */
export function agentRuntimeOf(unit: string): { nodeFlags: string[]; env: Record<string, string> } {
  const exec = unit.match(/^ExecStart=(.*(?:\\\n.*)*)/m)?.[1]?.replace(/\\\n/g, " ") ?? "";
  const words = exec.split(/\s+/).filter(Boolean);
  const node = words.indexOf("node");
  const tack = words.findIndex((w) => /\/tack$/.test(w));
  const nodeFlags = node >= 0 && tack > node ? words.slice(node + 1, tack) : [];
  const env: Record<string, string> = {};
  for (const m of unit.matchAll(/^Environment=(\w+)=(\S*)$/gm)) env[m[1]!] = m[2]!;
  return { nodeFlags, env };
}

async function get<T>(route: string): Promise<T | undefined> {
  try {
    const r = await fetch(`http://127.0.0.1:${PORT}${route}`);
    return r.ok ? ((await r.json()) as T) : undefined;
  } catch {
    return undefined;
  }
}

async function memKb(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"))?.[1] ?? NaN);
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
}

interface Status {
  reconciles: number;
  recentReconciles: { triggers: string[]; result: string; durationMs: number }[];
}

async function runAgent(label: string, nodeFlags: string[], env: Record<string, string>, remote: string, stateDir: string, cf: CloudflareEmulator) {
  const args = [...nodeFlags, BIN, "daemon", "--repo", remote, "--branch", "main", "--state-dir", stateDir, "--listen", `127.0.0.1:${PORT}`, "--interval", "1h", "--drift-interval", "1s"];
  process.stderr.write(`bench agent-memory (${label}): node ${args.join(" ")}\n`);
  const agent: ResultPromise = execa(process.execPath, args, { env: { ...process.env, ...env }, reject: false, stdout: "ignore", stderr: "pipe" });
  const pid = agent.pid!;
  const t0 = Date.now();
  try {
    // Ready: the first reconcile (the commit, already converged) is done.
    let st: Status | undefined;
    while (!(st = await get<Status>("/status"))?.reconciles) {
      if (Date.now() - t0 > TIMEOUT_MS) throw new Error(`the agent did not reconcile within ${TIMEOUT_MS} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const startReconciles = st.reconciles;
    const dnsStart = cf.log.length;
    const dnsLists = () => cf.log.slice(dnsStart).filter((e) => e.method === "GET" && e.path.endsWith("/dns_records")).length;
    const durations: number[] = [];
    let maxRssAfterStart = 0;
    let drift = 0;
    let lastPoll = 0;
    while (drift < HOUR_OF_DRIFT || dnsLists() < HOUR_OF_DNS) {
      if (Date.now() - t0 > TIMEOUT_MS) throw new Error(`${drift} drift checks and ${dnsLists()} DNS lists in ${TIMEOUT_MS} ms: too slow`);
      maxRssAfterStart = Math.max(maxRssAfterStart, (await memKb(pid)).rss);
      if (Date.now() - lastPoll > 2000) {
        lastPoll = Date.now();
        st = await get<Status>("/status");
        if (st) {
          // recentReconciles is newest first and holds 10: at most 2–3 are new between two looks.
          const fresh = st.recentReconciles.slice(0, st.reconciles - startReconciles - drift);
          const bad = fresh.find((r) => r.result !== "no-changes");
          if (bad) throw new Error(`a drift check on the converged host gave ${bad.result}: the bench host is not converged`);
          durations.push(...fresh.filter((r) => r.triggers.includes("drift")).map((r) => r.durationMs));
          drift = st.reconciles - startReconciles;
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const mem = await memKb(pid);
    return {
      label,
      command: `node ${[...nodeFlags, "bin/tack.js", "daemon", "…", "--drift-interval", "1s"].join(" ")}`,
      env,
      driftChecks: drift,
      dnsListRequests: dnsLists(),
      wallSeconds: round((Date.now() - t0) / 1000),
      driftCheckMs: summarize(durations),
      peakRssMb: round(mem.hwm / 1024),
      maxRssAfterFirstReconcileMb: round(maxRssAfterStart / 1024),
      finalRssMb: round(mem.rss / 1024),
    };
  } finally {
    agent.kill("SIGTERM");
    const r = await agent;
    if (r.exitCode !== 0 && r.signal === undefined) process.stderr.write(`bench agent-memory (${label}): the agent exited ${r.exitCode}: ${String(r.stderr).slice(-2000)}\n`);
  }
}

const sb = sandbox({ parts: ["systemd", "docker", "ufw", "npm"] });
const base = await mkdtemp(path.join(sb.dir, "agent-memory-"));
const dataRoot = path.join(base, "data");
const work = path.join(base, "repo");
const remote = path.join(base, "remote.git");
const converged = path.join(base, "state");
await mkdir(dataRoot, { recursive: true });
const cf = await startCloudflareEmulator({ token: CF_TOKEN, zones: [{ name: "example.org" }] });
process.env.CLOUDFLARE_API_TOKEN = CF_TOKEN;
process.env.CLOUDFLARE_BASE_URL = cf.baseURL;
try {
  await writeRepo(work, generateRepo({ size: SIZES.b, npmDataDir: sb.npmData!, dataRoot, dnsPollInterval: "5s" }));
  const journal = new Journal(converged);
  process.stderr.write(`bench agent-memory: converging ${SIZES.b.name}\n`);
  const out = await applyRevision({ dir: work }, { runner: new ExecaRunner(), stateDir: converged, journal });
  journal.close();
  if (out.status !== "applied" && out.status !== "no-changes") throw new Error(`converge failed: ${out.status}: ${out.error ?? ""}`);
  const git = (args: string[], cwd = work) => execa("git", ["-c", "user.email=bench@example.org", "-c", "user.name=bench", ...args], { cwd });
  await git(["init", "-q", "--bare", "--initial-branch=main", remote], base);
  await git(["init", "-q", "--initial-branch=main"]);
  await git(["add", "."]);
  await git(["commit", "-qm", "bench size b"]);
  await git(["push", "-q", remote, "main"]);
  const shipped = agentRuntimeOf(await readFile(UNIT, "utf8"));
  const runs = [];
  for (const [label, flags, env] of [
    ["examples/systemd/tack.service", shipped.nodeFlags, shipped.env],
    ["plain node", [], {}],
  ] as const) {
    // Each agent starts from the converged state (the journal's inventory), not from the other's.
    const stateDir = path.join(base, `state-${runs.length}`);
    await cp(converged, stateDir, { recursive: true });
    runs.push(await runAgent(label, [...flags], { ...env }, remote, stateDir, cf));
  }
  await writeResult("agent", { size: SIZES.b.name, hourOfDriftChecks: HOUR_OF_DRIFT, hourOfDnsObservations: HOUR_OF_DNS, runs });
} finally {
  await cf.close();
  await rm(base, { recursive: true, force: true }).catch(() => undefined);
}
