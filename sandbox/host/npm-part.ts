import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Runner } from "../../core/runner.js";
import { createNpmDatabase } from "../npm-schema.js";
import { FatalWait, waitFor } from "./daemon.js";
import { NPM_IMAGE } from "./images.js";

export const NPM_CONTAINER = "nginx-proxy-manager";
export const NPM_NETWORK = "npm_default";

/**
 * The "NPM" stand-in: nginx in a container named like NPM's, on its own bridge network npm_default,
 * publishing port 80 to the host as NPM does, with a host data dir at /data holding database.sqlite
 * (NPM's schema) and nginx/proxy_host/.
 */
export async function startNpm(run: Runner, dir: string): Promise<string> {
  const data = createNpmDataDir(join(dir, "npm/data"));
  await run.run("docker", ["network", "create", NPM_NETWORK], { mutates: true });
  await run.run("docker", [
    "run", "-d", "--name", NPM_CONTAINER, "--network", NPM_NETWORK, "-p", "80:80", "-v", `${data}:/data`, NPM_IMAGE,
  ], { mutates: true });
  try {
    await waitFor("nginx in the NPM container", async () => {
      const state = await run.run("docker", ["inspect", "-f", "{{.State.Running}}", NPM_CONTAINER]);
      if (state.stdout.trim() !== "true") throw new FatalWait("the NPM container exited");
      const r = await run.run("docker", ["exec", NPM_CONTAINER, "test", "-s", "/run/nginx.pid"], { okExitCodes: [0, 1] });
      return r.exitCode === 0;
    }, 20_000);
  } catch (e) {
    const logs = await run.run("docker", ["logs", "--tail", "20", NPM_CONTAINER], { okExitCodes: [0, 1] }).catch(() => undefined);
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n${logs?.stdout ?? ""}${logs?.stderr ?? ""}`, { cause: e });
  }
  return data;
}

/** An NPM data dir as NPM lays it out: database.sqlite (NPM's schema), nginx/<host kinds>/, logs/. */
export function createNpmDataDir(data: string): string {
  for (const d of ["nginx/proxy_host", "nginx/redirection_host", "nginx/dead_host", "nginx/default_host", "nginx/temp", "nginx/custom", "logs"]) {
    mkdirSync(join(data, d), { recursive: true });
  }
  createNpmDatabase(join(data, "database.sqlite"));
  return data;
}
