import { join } from "node:path";
import type { Runner } from "../../core/runner.js";
import { startDaemon, waitFor } from "./daemon.js";
import { buildBusyboxImage, buildNpmImage } from "./images.js";

export interface DockerEnv {
  DOCKER_HOST: string;
}

/**
 * A real dockerd with its own data root, exec root and socket in the scratch dir. Its bridges and iptables
 * chains live in the sandbox's network namespace; its container cgroups under /docker of the sandbox's cgroup
 * namespace (the cgroupfs driver: no systemd as pid 1 here).
 */
export function startDocker(dir: string): DockerEnv {
  const sock = join(dir, "docker.sock");
  startDaemon("dockerd", [
    "--data-root", join(dir, "docker"), "--exec-root", join(dir, "docker-exec"), "--host", `unix://${sock}`,
    "--pidfile", join(dir, "dockerd.pid"), "--exec-opt", "native.cgroupdriver=cgroupfs", "--cgroup-parent", "/docker",
  ], join(dir, "dockerd.log"));
  return { DOCKER_HOST: `unix://${sock}` };
}

export async function waitForDocker(run: Runner, dir: string, withNpmImage: boolean): Promise<void> {
  await waitFor("dockerd", async () => {
    await run.run("docker", ["version", "--format", "{{.Server.Version}}"], { timeoutMs: 5_000 });
    return true;
  }, 30_000);
  const work = join(dir, "images");
  await Promise.all([buildBusyboxImage(run, work), withNpmImage ? buildNpmImage(run, work) : Promise.resolve()]);
}

/** The compose command line that works here: `docker compose` (v2) if present, else `docker-compose` (v1). */
export async function detectCompose(run: Runner): Promise<string> {
  const v2 = await run.run("docker", ["compose", "version"], { okExitCodes: [0, 1, 125] }).catch(() => undefined);
  if (v2?.exitCode === 0) return "docker compose";
  await run.run("docker-compose", ["version"]);
  return "docker-compose";
}
