import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ExecaRunner } from "../../core/runner.js";
import { setupBase } from "./base.js";
import { setUpCompose } from "./compose-part.js";
import { startDocker, waitForDocker } from "./docker-part.js";
import { BUSYBOX_IMAGE, NPM_IMAGE } from "./images.js";
import { INNER_CONFIG_VAR, type InnerConfig } from "./inner-config.js";
import { NPM_CONTAINER, NPM_NETWORK, startNpm } from "./npm-part.js";
import { setupUfw } from "./ufw-part.js";
import { startSystemd, waitForSystemd } from "./systemd-part.js";
import { bootSystemManager, stopSystemManager, type SystemManager } from "./system-manager-part.js";

/**
 * Runs inside the namespaces, under tini (pid 1): sets up the parts, runs the command with the sandbox's
 * environment, and exits with its code. Everything it started dies with the pid namespace when it exits.
 */
const raw = process.env[INNER_CONFIG_VAR];
if (!raw) {
  process.stderr.write("inner-main.ts is started by run-in-sandbox.ts, not by hand\n");
  process.exit(1);
}
delete process.env[INNER_CONFIG_VAR];
delete process.env.TACK_SANDBOX_CGROUP_PROCS;
const config = JSON.parse(raw) as InnerConfig;

let commandPid: number | undefined;
let systemManager: SystemManager | undefined;
let stopping = false;
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(sig, () => {
    if (commandPid !== undefined) {
      process.kill(commandPid, sig); // the command decides; we exit when it does
    } else {
      stopping = true;
      process.stderr.write(`run-in-sandbox: ${sig} during set-up, tearing down\n`);
      process.exit(130);
    }
  });
}

async function setUp(): Promise<Record<string, string>> {
  const run = new ExecaRunner({ defaultTimeoutMs: 60_000 });
  const { dir, parts } = config;
  const started = performance.now();
  const steps: Record<string, number> = {};
  const timed = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    try {
      return await f();
    } finally {
      steps[name] = Math.round(performance.now() - t);
    }
  };
  await timed("base", () => setupBase(run, config.cgroups));
  const env: Record<string, string> = { TACK_SANDBOX: "1", TACK_SANDBOX_DIR: dir, TACK_SANDBOX_PARTS: parts.join(",") };
  // The daemons start first; UFW is enabled while they come up (both use iptables -w, in either order the
  // jumps to DOCKER-USER and ufw-* end up as on a real host), and compose is detected meanwhile.
  const systemd = parts.includes("systemd") ? startSystemd(dir) : undefined;
  const docker = parts.includes("docker") ? startDocker(dir) : undefined;
  if (docker) process.env.DOCKER_HOST = docker.DOCKER_HOST;
  const [, , , compose, system] = await Promise.all([
    parts.includes("ufw") ? timed("ufw", () => setupUfw(run, dir)) : undefined,
    systemd ? timed("systemd", () => waitForSystemd(run, systemd)) : undefined,
    docker ? timed("docker+images", () => waitForDocker(run, dir, parts.includes("npm"))) : undefined,
    docker ? timed("compose-detect", () => setUpCompose(run, dir, config.compose)) : undefined,
    systemd && config.systemdScope === "system" ? timed("systemd-system", () => bootSystemManager(run, dir)) : undefined,
  ]);
  if (systemd) Object.assign(env, systemd, { TACK_SANDBOX_SYSTEMD_SCOPE: config.systemdScope });
  if (system) {
    systemManager = system;
    Object.assign(env, system.env);
  }
  if (docker && compose) {
    Object.assign(env, docker, compose.env);
    process.env.DOCKER_CONFIG = compose.env.DOCKER_CONFIG;
    env.TACK_SANDBOX_COMPOSE = compose.command;
    env.TACK_SANDBOX_COMPOSE_FLAVOR = config.compose;
    env.TACK_SANDBOX_COMPOSE_VERSION = compose.version;
    env.TACK_SANDBOX_BUSYBOX_IMAGE = BUSYBOX_IMAGE;
  }
  if (parts.includes("npm")) {
    env.TACK_SANDBOX_NPM_DATA = await timed("npm", () => startNpm(run, dir));
    env.TACK_SANDBOX_NPM_IMAGE = NPM_IMAGE;
    env.TACK_SANDBOX_NPM_CONTAINER = NPM_CONTAINER;
    env.TACK_SANDBOX_NPM_NETWORK = NPM_NETWORK;
  }
  env.TACK_SANDBOX_SETUP_MS = String(Math.round(performance.now() - started));
  env.TACK_SANDBOX_SETUP_STEPS_MS = JSON.stringify(steps);
  return env;
}

async function main(): Promise<number> {
  let env: Record<string, string>;
  try {
    env = await setUp();
  } catch (e) {
    process.stderr.write(`run-in-sandbox: set-up failed: ${e instanceof Error ? e.message : String(e)}\n`);
    // The scratch dir (and its logs) is removed at exit: show the daemons' last words now.
    for (const log of ["dockerd.log", "systemd-user.log", "systemd-system.log"]) {
      const path = join(config.dir, log);
      if (!existsSync(path)) continue;
      const tail = readFileSync(path, "utf8").trimEnd().split("\n").slice(-15).join("\n");
      process.stderr.write(`--- ${log} (last lines)\n${tail}\n`);
    }
    return 1;
  }
  if (stopping) return 130;
  const [file, ...args] = config.command as [string, ...string[]];
  const child = spawn(file, args, { stdio: "inherit", cwd: config.cwd, env: { ...process.env, ...env } });
  commandPid = child.pid;
  return new Promise<number>((resolve) => {
    child.on("error", (e) => {
      process.stderr.write(`run-in-sandbox: cannot run ${file}: ${e.message}\n`);
      resolve(127);
    });
    child.on("exit", (code, signal) => resolve(code ?? (signal === "SIGINT" ? 130 : 143)));
  });
}

const code = await main();
if (systemManager) {
  // A clean poweroff (units stopped in order) rather than the pid namespace's SIGKILL; timed for the README.
  const ms = await stopSystemManager(new ExecaRunner(), systemManager);
  process.stderr.write(`run-in-sandbox: system manager powered off in ${ms} ms\n`);
}
process.exit(code);
