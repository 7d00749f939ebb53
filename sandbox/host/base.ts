import { mkdirSync } from "node:fs";
import type { Runner } from "../../core/runner.js";
import type { CgroupHierarchy } from "./cgroups.js";

/**
 * What every sandbox gets: loopback up, a private /run (ufw.lock, systemd, docker's netns files), and the
 * cgroup hierarchies mounted afresh so that they are rooted at the sandbox's own cgroup (see cgroups.ts).
 */
export async function setupBase(run: Runner, cgroups: CgroupHierarchy[]): Promise<void> {
  await run.run("ip", ["link", "set", "lo", "up"], { mutates: true });
  await run.run("mount", ["-t", "tmpfs", "-o", "mode=755", "tmpfs", "/run"], { mutates: true });
  const v1 = cgroups.filter((c) => c.mountPoint !== "/sys/fs/cgroup");
  if (v1.length > 0) await run.run("mount", ["-t", "tmpfs", "-o", "mode=755", "cgroup-root", "/sys/fs/cgroup"], { mutates: true });
  for (const c of cgroups) {
    mkdirSync(c.mountPoint, { recursive: true });
    const opts = c.options ? ["-o", c.options] : [];
    await run.run("mount", ["-t", c.fsType, ...opts, c.fsType, c.mountPoint], { mutates: true });
  }
}
