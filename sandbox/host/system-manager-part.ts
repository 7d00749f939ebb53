import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { Runner } from "../../core/runner.js";
import { startDaemon, waitFor, FatalWait } from "./daemon.js";

/** Where scripts/host-deps.sh extracts systemd-container (never installed as a package: facts.md). */
export const TACK_NSPAWN = "/usr/local/lib/tack/bin/systemd-nspawn";

export interface SystemManager {
  pid1: number;
  nspawnPid: number;
  /** For the command: PATH starts with the systemctl/journalctl that reach this manager. */
  env: { PATH: string; TACK_SANDBOX_SYSTEM_PID1: string };
}

/**
 * A real system-scope systemd, booted as PID 1 of its own namespaces by `systemd-nspawn --boot` over a
 * throw-away overlay of the host root (facts.md, "A system-scope systemd"). Never `systemd --system` on the
 * machine's root: its boot jobs would run on the shared filesystem. Here they run on the overlay, whose upper
 * layer is a tmpfs that dies with the sandbox.
 * - It shares the sandbox's network namespace (no --private-network): a unit listening on :4000 is reached by
 *   health gates and by NPM through the bridge gateway, and UFW filters it, as on a real host.
 * - The sandbox's /etc/systemd/system is the overlay's (a bind mount in this mount namespace only), so tack
 *   writes system units where it would on a host; the scratch dir is bound into the container at its own path.
 * - `systemctl`/`journalctl` without `--user` enter the container (nsenter); with `--user` they stay with the
 *   sandbox's user manager. Wrappers first in PATH do that, so tack, its CLI and its daemon run unchanged.
 */
export async function bootSystemManager(run: Runner, dir: string): Promise<SystemManager> {
  const nspawn = existsSync(TACK_NSPAWN) ? TACK_NSPAWN : "systemd-nspawn";
  const base = join(dir, "system");
  const root = join(base, "root");
  mkdirSync(base, { recursive: true });
  await run.run("mount", ["-t", "tmpfs", "-o", "mode=755", "tack-system", base], { mutates: true });
  for (const d of ["up", "work", "root"]) mkdirSync(join(base, d));
  await run.run("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=/,upperdir=${join(base, "up")},workdir=${join(base, "work")}`, root], { mutates: true });
  maskHostServices(root);
  writeFileSync(join(root, "etc/machine-id"), `${randomBytes(16).toString("hex")}\n`);
  await run.run("mount", ["--bind", join(root, "etc/systemd/system"), "/etc/systemd/system"], { mutates: true });

  const name = basename(dir).replace(/[^A-Za-z0-9-]/g, "-");
  const nspawnPid = startDaemon(nspawn, [
    "-D", root, "--boot", "--register=no", "--keep-unit", "--link-journal=no", "--console=pipe", "-M", name, `--bind=${dir}`,
  ], join(dir, "systemd-system.log"));
  let pid1 = 0;
  // Too early, systemctl says "System has not been booted with systemd": wait for the private bus socket.
  await waitFor("the system manager's /run/systemd/private", async () => {
    if (!alive(nspawnPid)) throw new FatalWait(`systemd-nspawn exited (see ${join(dir, "systemd-system.log")})`);
    pid1 = childrenOf(nspawnPid, "systemd")[0] ?? 0;
    return pid1 > 0 && existsSync(`/proc/${pid1}/root/run/systemd/private`);
  }, 30_000);
  const state = await run.run("nsenter", ["-t", String(pid1), "-a", "systemctl", "is-system-running", "--wait"], { okExitCodes: [0, 1], timeoutMs: 60_000 });
  if (!/^(running|degraded)/.test(state.stdout.trim())) throw new Error(`the system manager did not come up: ${state.stdout.trim()} ${state.stderr.trim()}`);
  const bin = join(dir, "system-bin");
  mkdirSync(bin, { recursive: true });
  for (const tool of ["systemctl", "journalctl"]) writeWrapper(join(bin, tool), tool, pid1);
  return { pid1, nspawnPid, env: { PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`, TACK_SANDBOX_SYSTEM_PID1: String(pid1) } };
}

/** `systemctl poweroff`, then waits for systemd-nspawn to exit; returns how long that took (ms). */
export async function stopSystemManager(run: Runner, m: SystemManager): Promise<number> {
  const started = performance.now();
  await run.run("nsenter", ["-t", String(m.pid1), "-a", "systemctl", "poweroff"], { mutates: true, okExitCodes: [0, 1, 255] }).catch(() => undefined);
  const deadline = Date.now() + 20_000;
  while (alive(m.nspawnPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (alive(m.nspawnPid)) process.kill(m.nspawnPid, "SIGKILL");
  return Math.round(performance.now() - started);
}

/** The host's enabled units (docker, nginx, ufw, timers, getty...) must not start in the overlay: masked there. */
function maskHostServices(root: string): void {
  const etc = join(root, "etc/systemd/system");
  const names = new Set(["getty@.service", "console-getty.service", "container-getty@.service"]);
  for (const e of readdirSync(etc, { withFileTypes: true })) {
    if (e.isDirectory() && e.name.endsWith(".wants")) for (const u of readdirSync(join(etc, e.name))) names.add(u);
  }
  for (const u of names) {
    rmSync(join(etc, u), { force: true }); // an alias link of the same name, in the upper layer only
    symlinkSync("/dev/null", join(etc, u));
  }
}

function writeWrapper(file: string, tool: string, pid1: number): void {
  const real = `/bin/${tool}`;
  writeFileSync(
    file,
    `#!/bin/sh\n# The sandbox's system manager answers ${tool} (sandbox/host/system-manager-part.ts); --user stays with the user manager.\n` +
      `for a in "$@"; do [ "$a" = --user ] && exec ${real} "$@"; done\nexec nsenter -t ${pid1} -a ${real} "$@"\n`,
  );
  chmodSync(file, 0o755);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Children of `ppid` named `comm` (no /proc/PID/task/TID/children on this kernel). */
function childrenOf(ppid: number, comm: string): number[] {
  const out: number[] = [];
  for (const n of readdirSync("/proc")) {
    if (!/^\d+$/.test(n)) continue;
    try {
      const stat = readFileSync(`/proc/${n}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppidOf = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppidOf === ppid && name === comm) out.push(Number(n));
    } catch {
      // gone while we looked
    }
  }
  return out;
}
