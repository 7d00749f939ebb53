import { existsSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { planCgroups, removeCgroups } from "./cgroups.js";

/**
 * Removes what a sandbox whose launcher was killed (SIGKILL, OOM) left: its scratch dir and cgroup dirs.
 * A sandbox is alive while any process sits in its cgroup tree (tini, pid 1 of its namespace, at least),
 * so a dir is swept only on positive evidence of death: its cgroup dirs exist and hold no process, and the
 * dir is older than `minAgeMs` (a launcher creates both a moment before its first process joins). Inside
 * a sandbox, /tmp is shared but only the cgroups of sandboxes nested in it are visible (cgroup namespace):
 * the enclosing sandbox and other people's are never judged from there.
 */
export const SANDBOX_DIR_PATTERN = /^tack-sandbox-[A-Za-z0-9]{6}$/;

function treeHasProcesses(dir: string): boolean {
  if (!existsSync(dir)) return false;
  if (readFileSync(join(dir, "cgroup.procs"), "utf8").trim() !== "") return true;
  return readdirSync(dir, { withFileTypes: true }).some((e) => e.isDirectory() && treeHasProcesses(join(dir, e.name)));
}

function hasMountsUnder(dir: string): boolean {
  return readFileSync("/proc/self/mountinfo", "utf8").split("\n").some((l) => {
    const m = l.split(" ")[4] ?? "";
    return m === dir || m.startsWith(dir + "/");
  });
}

export function sweepStaleSandboxes(tmp = "/tmp", minAgeMs = 60_000, now = Date.now()): string[] {
  const swept: string[] = [];
  for (const name of readdirSync(tmp)) {
    if (!SANDBOX_DIR_PATTERN.test(name)) continue;
    const dir = join(tmp, name);
    try {
      if (now - statSync(dir).mtimeMs < minAgeMs) continue;
      const cgroups = planCgroups(name);
      if (!cgroups.some((c) => existsSync(c.sandboxDir))) continue;
      if (cgroups.some((c) => treeHasProcesses(c.sandboxDir)) || hasMountsUnder(dir)) continue;
      rmSync(dir, { recursive: true, force: true });
      removeCgroups(cgroups);
      swept.push(dir);
    } catch {
      // raced with its own launcher's teardown, or not ours to judge: leave it
    }
  }
  return swept;
}
