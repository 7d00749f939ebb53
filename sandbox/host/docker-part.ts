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
