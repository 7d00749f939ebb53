import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Runner } from "../../core/runner.js";
import { startDaemon, waitFor } from "./daemon.js";

export interface SystemdEnv {
  HOME: string;
  XDG_RUNTIME_DIR: string;
}

/**
 * A real `systemd --user` manager. Never `systemd --system` here: its boot jobs would run on the shared
 * filesystem (facts.md). HOME is private so ~/.config/systemd/user is the sandbox's own.
 */
export function startSystemd(dir: string): SystemdEnv {
  mkdirSync("/run/systemd/system", { recursive: true });
  const env: SystemdEnv = { HOME: join(dir, "home"), XDG_RUNTIME_DIR: join(dir, "xdg-runtime") };
  mkdirSync(join(env.HOME, ".config/systemd/user"), { recursive: true });
  mkdirSync(env.XDG_RUNTIME_DIR, { recursive: true, mode: 0o700 });
  startDaemon("/lib/systemd/systemd", ["--user"], join(dir, "systemd-user.log"), { ...process.env, ...env });
  return env;
}

export async function waitForSystemd(run: Runner, env: SystemdEnv): Promise<void> {
  await waitFor("systemd --user", async () => {
    const r = await run.run("systemctl", ["--user", "is-system-running"], { env: { ...env }, okExitCodes: [0, 1] });
    return /^(running|degraded)/.test(r.stdout.trim());
  }, 20_000);
}
