import { readFileSync, mkdirSync, writeFileSync, readdirSync, rmdirSync, existsSync } from "node:fs";
import { join } from "node:path";

/**
 * The sandbox's cgroups. The host has no systemd as pid 1 (cgroup v1 hybrid here), so whatever a sandbox's
 * systemd --user or dockerd creates would land at the root of the host's hierarchies and stay there. The
 * launcher therefore makes one directory per hierarchy, below the launcher's own cgroup, moves the namespace's
 * first process into it, and unshares a cgroup namespace: inside, that directory is "/", so init.scope,
 * app.slice and /docker/<id> are all created under it, and teardown removes the whole tree.
 */
export interface CgroupHierarchy {
  /** Mount point on the host, e.g. /sys/fs/cgroup/memory. */
  mountPoint: string;
  fsType: "cgroup" | "cgroup2";
  /** Mount options to recreate the mount inside the namespace, e.g. "cpu" or "xattr,name=systemd". */
  options: string;
  /** The sandbox's directory on the host, e.g. /sys/fs/cgroup/memory/process_api/x/tack-sandbox-ab12. */
  sandboxDir: string;
}

interface MountInfo {
  mountPoint: string;
  fsType: string;
  superOptions: string[];
}

function cgroupMounts(): MountInfo[] {
  // Keyed by mount point, later lines win: in a nested sandbox the host's mounts are still listed, hidden
  // under the outer sandbox's own.
  const out = new Map<string, MountInfo>();
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const [left, right] = line.split(" - ");
    if (!left || !right) continue;
    const [fsType, , superOpts] = right.split(" ");
    if (fsType !== "cgroup" && fsType !== "cgroup2") continue;
    const mountPoint = left.split(" ")[4];
    if (!mountPoint) continue;
    out.delete(mountPoint);
    out.set(mountPoint, { mountPoint, fsType, superOptions: (superOpts ?? "").split(",") });
  }
  return [...out.values()];
}

/** Plans one sandbox directory per mounted hierarchy, below this process's own cgroup in it. */
export function planCgroups(name: string): CgroupHierarchy[] {
  const own = new Map<string, string>(); // "cpu,cpuacct" | "name=systemd" | "" (v2) → path
  for (const line of readFileSync("/proc/self/cgroup", "utf8").trim().split("\n")) {
    const [, controllers = "", ...rest] = line.split(":");
    own.set(controllers, rest.join(":"));
  }
  const result: CgroupHierarchy[] = [];
  for (const m of cgroupMounts()) {
    if (m.fsType === "cgroup2") {
      const path = own.get("");
      if (path === undefined) continue;
      result.push({ mountPoint: m.mountPoint, fsType: "cgroup2", options: "", sandboxDir: join(m.mountPoint, path, name) });
      continue;
    }
    const opts = m.superOptions.filter((o) => o !== "rw" && o !== "ro");
    const key = [...own.keys()].find((k) => k !== "" && k.split(",").every((c) => opts.includes(c)));
    if (key === undefined) continue;
    result.push({ mountPoint: m.mountPoint, fsType: "cgroup", options: opts.join(","), sandboxDir: join(m.mountPoint, own.get(key) ?? "/", name) });
  }
  return result;
}

export function createCgroups(hierarchies: CgroupHierarchy[]): void {
  for (const h of hierarchies) {
    mkdirSync(h.sandboxDir, { recursive: true });
    // A v1 cpuset child starts with empty cpus/mems and refuses tasks until they are copied from its parent.
    if (h.fsType === "cgroup" && h.options.split(",").includes("cpuset")) {
      for (const f of ["cpuset.cpus", "cpuset.mems"]) {
        writeFileSync(join(h.sandboxDir, f), readFileSync(join(h.sandboxDir, "..", f), "utf8").trim() || "0");
      }
    }
  }
}

/** Removes a sandbox's cgroup trees, deepest first. Returns the directories that could not be removed. */
export function removeCgroups(hierarchies: CgroupHierarchy[]): string[] {
  const left: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name));
    try {
      rmdirSync(dir);
    } catch {
      left.push(dir);
    }
  };
  for (const h of hierarchies) if (existsSync(h.sandboxDir)) walk(h.sandboxDir);
  return left;
}
