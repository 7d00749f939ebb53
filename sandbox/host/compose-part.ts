import { existsSync, mkdirSync, symlinkSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Runner } from "../../core/runner.js";
import type { SandboxCompose } from "./parts.js";

/** Where scripts/host-deps.sh puts Debian's next-release Compose v2 (a DOCKER_CONFIG dir of tack's own). */
export const TACK_COMPOSE_PLUGIN = "/usr/local/lib/tack/docker/cli-plugins/docker-compose";
/** The docker CLI's system plugin dirs (besides $DOCKER_CONFIG/cli-plugins). */
const SYSTEM_PLUGIN_DIRS = ["/usr/local/lib/docker/cli-plugins", "/usr/local/libexec/docker/cli-plugins", "/usr/lib/docker/cli-plugins", "/usr/libexec/docker/cli-plugins"];

export interface ComposeSetup {
  /** argv prefix: `docker compose` or `docker-compose` */
  command: string;
  version: string;
  env: { DOCKER_CONFIG: string };
}

/**
 * Gives the sandbox exactly the Compose asked for, and proves it. Every docker call in the sandbox uses a
 * private DOCKER_CONFIG: for v2 its cli-plugins holds the host's or tack's plugin (a system-wide plugin works
 * as is); for v1 the system plugin dirs are hidden under empty mounts (this mount namespace only), so that
 * `docker compose` fails and tack's detection has to fall back to `docker-compose`, as on a v1-only host.
 * Never falls back to the other flavor: a run must not claim coverage it did not have.
 */
export async function setUpCompose(run: Runner, dir: string, flavor: SandboxCompose): Promise<ComposeSetup> {
  const config = join(dir, "docker-config");
  mkdirSync(join(config, "cli-plugins"), { recursive: true });
  const env = { DOCKER_CONFIG: config };
  const v2 = () => run.run("docker", ["compose", "version", "--short"], { env, okExitCodes: [0, 1, 125] }).catch(() => undefined);
  if (flavor === "v2") {
    if ((await v2())?.exitCode !== 0) {
      const plugin = [join(homedir(), ".docker/cli-plugins/docker-compose"), TACK_COMPOSE_PLUGIN].find((p) => existsSync(p));
      if (plugin) symlinkSync(plugin, join(config, "cli-plugins", "docker-compose"));
    }
    const r = await v2();
    if (r?.exitCode !== 0) throw new Error(`Compose v2 (docker compose) is not available: run scripts/host-deps.sh, or choose --compose v1 (${r?.stderr.trim() ?? "docker failed"})`);
    return { command: "docker compose", version: r.stdout.trim(), env };
  }
  const empty = join(dir, "no-cli-plugins");
  mkdirSync(empty, { recursive: true });
  for (const d of SYSTEM_PLUGIN_DIRS) {
    if (existsSync(join(d, "docker-compose"))) await run.run("mount", ["--bind", "-o", "ro", empty, d], { mutates: true });
  }
  if ((await v2())?.exitCode === 0) throw new Error("cannot hide Compose v2 from the sandbox for a v1 run");
  const r = await run.run("docker-compose", ["version", "--short"], { env }).catch((e: unknown) => {
    throw new Error(`Compose v1 (docker-compose) is not available: ${e instanceof Error ? e.message : String(e)}`);
  });
  const version = r.stdout.trim();
  if (!version.startsWith("1.")) throw new Error(`docker-compose here is ${version}, not v1: a v1 run needs Debian 12's docker-compose 1.29`);
  return { command: "docker-compose", version, env };
}
