import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { createCgroups, planCgroups, removeCgroups } from "./host/cgroups.js";

// Launches run-in-sandbox.ts as a child (needs root and unshare: run on the machine, or nested in `npm test`)
// and checks that a sandbox leaves nothing behind: processes, mounts, its dir, cgroup dirs.
const launcher = join(fileURLToPath(new URL(".", import.meta.url)), "run-in-sandbox.ts");

interface Launched {
  lines: { text: string; at: number }[];
  stderr: string;
  exit: Promise<{ code: number | null; at: number }>;
  pid: number;
  waitForLine(prefix: string, timeoutMs?: number): Promise<string>;
}

const launched: Launched[] = [];
// A failed assertion must not leave a sandbox running: SIGTERM makes the launcher tear it down.
afterEach(async () => {
  for (const l of launched.splice(0)) {
    try {
      process.kill(l.pid, "SIGTERM");
    } catch {
      // already gone
    }
    await l.exit;
  }
});

function launch(args: string[], wrap: string[] = []): Launched {
  const child = spawn(wrap[0] ?? process.execPath, [...wrap.slice(1), ...(wrap.length ? [process.execPath] : []), "--import", "tsx", launcher, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out: Launched["lines"] = [];
  let buf = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split("\n");
    buf = parts.pop() ?? "";
    for (const text of parts) out.push({ text, at: performance.now() });
  });
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  let exited = false;
  const exit = new Promise<{ code: number | null; at: number }>((resolve) =>
    child.on("exit", (code) => {
      exited = true;
      resolve({ code, at: performance.now() });
    }),
  );
  const l: Launched = {
    lines: out,
    get stderr() {
      return stderr;
    },
    exit,
    pid: child.pid ?? -1,
    async waitForLine(prefix, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = out.find((l) => l.text.startsWith(prefix));
        if (hit) return hit.text.slice(prefix.length);
        if (Date.now() > deadline || exited) throw new Error(`no line ${prefix} in ${JSON.stringify(out)}; stderr: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
  launched.push(l);
  return l;
}

/** Host processes that belong to a sandbox: in its cgroup tree, or naming its dir in argv or environment. */
function processesOf(dir: string): string[] {
  const name = basename(dir);
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const cgroup = readFileSync(`/proc/${pid}/cgroup`, "utf8");
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
      const environ = readFileSync(`/proc/${pid}/environ`, "utf8");
      if (cgroup.includes(name) || cmdline.includes(dir) || environ.includes(dir)) found.push(`${pid} ${cmdline.trim()}`);
    } catch {
      // gone while we looked
    }
  }
  return found;
}

function cgroupDirsOf(dir: string): string[] {
  const name = basename(dir);
  const found: string[] = [];
  const walk = (d: string, depth: number): void => {
    if (depth > 6) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const p = join(d, e.name);
      if (e.name === name) found.push(p);
      else walk(p, depth + 1);
    }
  };
  walk("/sys/fs/cgroup", 0);
  return found;
}

const mountsUnder = (dir: string) => readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l.includes(dir));

describe("run-in-sandbox.ts", () => {
  it("starts all parts, runs the command, and leaves nothing behind (timed)", async () => {
    const started = performance.now();
    const s = launch(["--", "sh", "-c", 'sh -c "sleep 600" & echo "DIR=$TACK_SANDBOX_DIR"; echo "SETUP_MS=$TACK_SANDBOX_SETUP_MS"; echo "PARTS=$TACK_SANDBOX_PARTS"; sleep 2; echo END']);
    const dir = await s.waitForLine("DIR=");
    const ready = performance.now();
    expect(await s.waitForLine("PARTS=")).toBe("ufw,systemd,docker,npm");
    // While it runs, the checks below do see it: dockerd, containerd, systemd --user, nginx, the orphan sleep.
    const during = processesOf(dir);
    expect(during.join("\n")).toMatch(/dockerd/);
    expect(during.join("\n")).toMatch(/systemd --user/);
    expect(during.join("\n")).toMatch(/nginx/);
    expect(during.join("\n")).toMatch(/sleep 600/);
    expect(cgroupDirsOf(dir).length).toBeGreaterThan(0);
    expect(existsSync(dir)).toBe(true);

    await s.waitForLine("END");
    const endAt = s.lines.find((l) => l.text === "END")?.at ?? 0;
    const { code, at } = await s.exit;
    expect(s.stderr).not.toMatch(/teardown left/);
    expect(code).toBe(0);
    expect(processesOf(dir)).toEqual([]);
    expect(mountsUnder(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
    expect(cgroupDirsOf(dir)).toEqual([]);
    const timing = { setupInsideMs: Number(await s.waitForLine("SETUP_MS=")), startToCommandMs: Math.round(ready - started), teardownMs: Math.round(at - endAt) };
    console.log(`sandbox (all parts) timing: ${JSON.stringify(timing)}`);
    expect(timing.teardownMs).toBeLessThan(15_000);
  });

  it("exits with the command's exit code", async () => {
    const s = launch(["--parts", "ufw", "--", "sh", "-c", "exit 7"]);
    expect((await s.exit).code).toBe(7);
  });

  it("forwards SIGTERM to the command, then tears down", async () => {
    const s = launch(["--parts", "systemd,docker", "--", "sh", "-c", 'echo "DIR=$TACK_SANDBOX_DIR"; exec sleep 600']);
    const dir = await s.waitForLine("DIR=");
    expect(processesOf(dir).join("\n")).toMatch(/dockerd/);
    process.kill(s.pid, "SIGTERM");
    const { code } = await s.exit;
    expect(code).toBe(143);
    expect(processesOf(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
    expect(cgroupDirsOf(dir)).toEqual([]);
  });

  it("refuses clearly, never skips, without root", async () => {
    const s = launch(["--", "true"], ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]);
    const { code } = await s.exit;
    expect(code).toBe(1);
    expect(s.stderr).toContain("the sandbox host needs root and unshare(2): ");
  });
});

describe("stale sandboxes", () => {
  it("a launcher sweeps a dead sandbox's dir and cgroups, never a live one's", async () => {
    const old = new Date(Date.now() - 5 * 60_000);
    const dead = mkdtempSync("/tmp/tack-sandbox-");
    const live = mkdtempSync("/tmp/tack-sandbox-");
    const deadCgroups = planCgroups(basename(dead));
    const liveCgroups = planCgroups(basename(live));
    createCgroups(deadCgroups);
    createCgroups(liveCgroups);
    mkdirSync(join(dead, "docker/overlay2"), { recursive: true });
    const sleeper = spawn("sleep", ["600"], { stdio: "ignore" });
    try {
      for (const c of liveCgroups) writeFileSync(join(c.sandboxDir, "cgroup.procs"), String(sleeper.pid));
      utimesSync(dead, old, old);
      utimesSync(live, old, old);

      const s = launch(["--parts", "ufw", "--", "true"]);
      expect((await s.exit).code).toBe(0);
      expect(s.stderr).toContain(`removed ${dead}`);
      expect(existsSync(dead)).toBe(false);
      expect(cgroupDirsOf(dead)).toEqual([]);
      expect(existsSync(live)).toBe(true);
      expect(cgroupDirsOf(live).length).toBe(liveCgroups.length);
    } finally {
      sleeper.kill("SIGKILL");
      await new Promise((r) => sleeper.once("exit", r));
      rmSync(live, { recursive: true, force: true });
      rmSync(dead, { recursive: true, force: true });
      for (let i = 0; i < 20 && removeCgroups([...liveCgroups, ...deadCgroups]).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    }
  });
});
