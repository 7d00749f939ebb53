import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { ANSIBLE_ENV, machineInfo } from "./machine.js";
import { writeReadmeTables } from "./report.js";
import { RESULTS_DIR, writeResult } from "./result-file.js";
import { round } from "./stats.js";

/**
 * `npm run bench [-- --only noop,availability,latency,agent,ansible] [--runs N] [--sizes a,b] [--compare-runs N] [--compare-tools tack]`: every benchmark in a sandbox host
 * of its own (sandbox/run-in-sandbox.ts tears it down when the benchmark ends), JSON results in
 * bench/results/, tables in bench/README.md. Traffic stays on the sandboxes' loopback and bridges.
 */
const ROOT = path.resolve(import.meta.dirname, "..");
const BENCHES = ["noop", "availability", "latency", "agent", "ansible"] as const;
type Bench = (typeof BENCHES)[number];
// Each benchmark stops by itself; this is the backstop if one hangs.
const TIMEOUT_MS = 12 * 60_000;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function inSandbox(label: string, script: string, args: string[]): Promise<void> {
  const t0 = performance.now();
  process.stderr.write(`\n== bench ${label}: starting a sandbox host\n`);
  const r = await execa(process.execPath, ["--import", "tsx", path.join(ROOT, "sandbox/run-in-sandbox.ts"), "--", process.execPath, "--import", "tsx", path.join(ROOT, script), ...args], {
    cwd: ROOT,
    stdout: "inherit",
    stderr: "inherit",
    reject: false,
    timeout: TIMEOUT_MS,
    killSignal: "SIGTERM",
  });
  process.stderr.write(`== bench ${label}: ${r.exitCode === 0 ? "done" : `FAILED (exit ${r.exitCode}${r.timedOut ? ", timed out" : ""})`} in ${round((performance.now() - t0) / 1000)} s\n`);
  if (r.exitCode !== 0) throw new Error(`bench ${label} failed`);
}

async function ensureAnsible(): Promise<void> {
  const have = await execa("ansible-playbook", ["--version"], { reject: false, env: ANSIBLE_ENV });
  if (have.exitCode === 0) return;
  process.stderr.write(
    "bench ansible: ansible-playbook is not installed. Installing Debian's `ansible` package (it bundles community.docker and\n" +
      "community.general) with apt-get; benchmarks are not part of CI, so scripts/host-deps.sh does not list it.\n",
  );
  const r = await execa("apt-get", ["install", "-y", "--no-install-recommends", "ansible"], { stdout: "inherit", stderr: "inherit", reject: false, env: { DEBIAN_FRONTEND: "noninteractive" } });
  if (r.exitCode !== 0) throw new Error("could not install ansible (apt-get install ansible); install it and run `npm run bench -- --only ansible` again");
}

/**
 * Both halves, or with `--compare-tools tack` tack's alone: Ansible's half is then kept from the last results
 * (`ansibleMeasuredAt` says when it ran), for a tack change measured without reinstalling and re-running Ansible.
 */
async function ansibleCompare(runs: string, tools: string[]): Promise<void> {
  const previous = JSON.parse(await readFile(path.join(RESULTS_DIR, "ansible.json"), "utf8").catch(() => "null")) as Record<string, unknown> | null;
  if (!tools.includes("ansible") && !previous?.ansibleRun) throw new Error("--compare-tools without ansible needs an earlier bench/results/ansible.json to keep Ansible's half from");
  if (tools.includes("ansible")) await ensureAnsible();
  const tmp = await mkdtemp(path.join(tmpdir(), "tack-bench-"));
  try {
    const halves: Record<string, { noopMs: { median: number }; cutoverMs: number; converge: { ms: number } } & Record<string, unknown>> = {};
    for (const tool of ["tack", "ansible"].filter((t) => tools.includes(t))) {
      const out = path.join(tmp, `${tool}.json`);
      await inSandbox(`ansible (${tool} half)`, "bench/compare-ansible.ts", ["--tool", tool, "--runs", runs, "--out", out]);
      halves[tool] = JSON.parse(await readFile(out, "utf8"));
    }
    const kept = !tools.includes("ansible");
    if (kept) halves.ansible = previous!.ansibleRun as (typeof halves)["ansible"];
    const versions = kept ? String(previous!.ansible) : (await execa("ansible", ["--version"], { env: ANSIBLE_ENV })).stdout.split("\n")[0];
    await writeResult("ansible", {
      note: "each tool in a fresh sandbox host of the same make, as the command a user runs (process start-up included); ratio = tack / Ansible",
      ansible: versions,
      ...(kept ? { ansibleMeasuredAt: previous!.ansibleMeasuredAt ?? previous!.finishedAt } : {}),
      tack: halves.tack,
      ansibleRun: halves.ansible,
      ratios: {
        converge: round(halves.tack!.converge.ms / halves.ansible!.converge.ms, 2),
        noopMedian: round(halves.tack!.noopMs.median / halves.ansible!.noopMs.median, 2),
        cutover: round(halves.tack!.cutoverMs / halves.ansible!.cutoverMs, 2),
      },
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

const only = (arg("only") ?? BENCHES.join(",")).split(",").map((s) => s.trim()) as Bench[];
const unknown = only.filter((b) => !BENCHES.includes(b));
if (unknown.length) {
  process.stderr.write(`unknown benchmark(s): ${unknown.join(", ")}; choose from ${BENCHES.join(", ")}\n`);
  process.exit(1);
}
const runs = arg("runs");
const started = performance.now();
// The CLI figures run the compiled package (bin/tack.js → dist/), as a user installs it: build it from these sources.
process.stderr.write("bench: npm run build\n");
await execa("npm", ["run", "build"], { cwd: ROOT, stdout: "ignore", stderr: "inherit" });
const failed: string[] = [];
const steps: Record<Bench, () => Promise<void>> = {
  noop: () => inSandbox("noop", "bench/noop.ts", ["--sizes", arg("sizes") ?? "a,b", "--runs", runs ?? "10"]),
  availability: () => inSandbox("availability", "bench/availability.ts", []),
  latency: () => inSandbox("latency", "bench/latency.ts", []),
  agent: () => inSandbox("agent", "bench/agent-memory.ts", []),
  // Ansible's no-op runs take tens of seconds each: its own, smaller count.
  ansible: () => ansibleCompare(arg("compare-runs") ?? "3", (arg("compare-tools") ?? "tack,ansible").split(",")),
};
for (const b of only) {
  try {
    await steps[b]();
  } catch (err) {
    failed.push(b);
    process.stderr.write(`${(err as Error).message}\n`);
  }
}
await writeResult("machine", await machineInfo());
await writeReadmeTables();
process.stderr.write(`\nbench: ${only.length - failed.length}/${only.length} done in ${round((performance.now() - started) / 60_000)} min${failed.length ? `; failed: ${failed.join(", ")}` : ""}\n`);
process.exit(failed.length ? 1 : 0);
