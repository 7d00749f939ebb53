import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createCgroups, planCgroups, removeCgroups } from "./cgroups.js";
import { INNER_CONFIG_VAR, type InnerConfig } from "./inner-config.js";
import type { LauncherArgs } from "./parts.js";
import { sweepStaleSandboxes } from "./stale-sweep.js";

/**
 * The launcher, outside the namespaces. It owns what must be cleaned even if everything inside is killed:
 * the scratch dir and the cgroup dirs. Processes need no cleanup: the namespace's first process (tini) is
 * pid 1 of a new pid namespace, so when it exits the kernel kills every process left in it.
 */
export const PREFLIGHT_MESSAGE = "the sandbox host needs root and unshare(2)";

export function preflight(): void {
  if (process.getuid?.() !== 0) throw new Error(`${PREFLIGHT_MESSAGE}: not running as root (uid ${process.getuid?.()})`);
  const probe = spawnSync("unshare", ["--cgroup", "--net", "--mount", "--pid", "--fork", "true"], { encoding: "utf8" });
  if (probe.error || probe.status !== 0) {
    throw new Error(`${PREFLIGHT_MESSAGE}: unshare failed: ${probe.error?.message ?? probe.stderr.trim()}`);
  }
  for (const bin of ["tini", "ip"]) {
    if (spawnSync("sh", ["-c", `command -v ${bin}`]).status !== 0) throw new Error(`${PREFLIGHT_MESSAGE}: ${bin} is missing (run scripts/host-deps.sh)`);
  }
}

/** Processes whose parent is `ppid` (no /proc/PID/task/TID/children on this kernel). */
function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) === ppid) out.push(Number(name));
    } catch {
      // the process went away while we looked
    }
  }
  return out;
}

/** Mount points at or under `dir` in this (the host's) mount namespace, deepest first. */
function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4] ?? "")
    .filter((m) => m === dir || m.startsWith(dir + "/"))
    .sort((a, b) => b.length - a.length);
}

export interface TeardownReport {
  leftMounts: string[];
  leftCgroups: string[];
}

export async function runInSandbox(args: LauncherArgs): Promise<number> {
  preflight();
  for (const d of sweepStaleSandboxes()) process.stderr.write(`run-in-sandbox: removed ${d}, left by a sandbox whose launcher died\n`);
  const dir = mkdtempSync("/tmp/tack-sandbox-");
  const cgroups = planCgroups(basename(dir));
  const config: InnerConfig = { dir, parts: args.parts, compose: args.compose, systemdScope: args.systemdScope, cgroups, command: args.command, cwd: process.cwd() };
  let code = 1;
  try {
    createCgroups(cgroups);
    const innerEntry = join(fileURLToPath(new URL(".", import.meta.url)), "inner-main.ts");
    // sh puts itself into the sandbox's cgroups, then becomes unshare: the cgroup namespace is rooted there.
    // (cgroup paths hold no spaces: the word-split list is safe)
    const script = 'for f in $TACK_SANDBOX_CGROUP_PROCS; do echo $$ > "$f" || exit 97; done; exec "$@"';
    const procs = cgroups.map((c) => join(c.sandboxDir, "cgroup.procs"));
    const unshareArgs = [
      "unshare", "--cgroup", "--net", "--mount", "--pid", "--fork", "--mount-proc", "--propagation", "private",
      "tini", "-s", "--", process.execPath, ...process.execArgv, innerEntry,
    ];
    const child = spawn("sh", ["-c", script, "sh", ...unshareArgs], {
      stdio: "inherit",
      env: { ...process.env, [INNER_CONFIG_VAR]: JSON.stringify(config), TACK_SANDBOX_CGROUP_PROCS: procs.join(" ") },
    });
    const forward = (sig: NodeJS.Signals): void => {
      // Only pid 1 of the namespace (tini) can be signalled usefully from here; it passes it on to the setup.
      for (const pid of child.pid ? childrenOf(child.pid) : []) process.kill(pid, sig);
    };
    const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
    for (const s of signals) process.on(s, forward);
    code = await new Promise<number>((resolve) => {
      child.on("exit", (c, sig) => resolve(c ?? 128 + (sig ? (osSignals[sig] ?? 1) : 1)));
      child.on("error", (e) => {
        process.stderr.write(`run-in-sandbox: ${e.message}\n`);
        resolve(1);
      });
    });
    for (const s of signals) process.off(s, forward);
  } finally {
    const report = await teardown(dir, cgroups);
    if (report.leftMounts.length + report.leftCgroups.length > 0) {
      process.stderr.write(`run-in-sandbox: teardown left ${JSON.stringify(report)}\n`);
      if (code === 0) code = 1;
    }
  }
  return code;
}

const osSignals: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

export async function teardown(dir: string, cgroups: ReturnType<typeof planCgroups>): Promise<TeardownReport> {
  // Mounts made inside died with the mount namespace; this only catches one that leaked by propagation.
  for (const m of mountsUnder(dir)) spawnSync("umount", ["-l", m]);
  const leftMounts = mountsUnder(dir);
  if (leftMounts.length === 0) rmSync(dir, { recursive: true, force: true });
  let leftCgroups = removeCgroups(cgroups);
  // Tasks killed with the pid namespace can take a moment to leave their cgroups.
  for (let i = 0; i < 20 && leftCgroups.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    leftCgroups = removeCgroups(cgroups);
  }
  return { leftMounts, leftCgroups };
}
