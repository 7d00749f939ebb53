import { cpSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Runner } from "../../core/runner.js";

/** Real UFW on private copies of its files: it rewrites /etc/ufw and /etc/default/ufw when enabled. */
export async function setupUfw(run: Runner, dir: string): Promise<void> {
  const copies: [string, string][] = [
    ["/etc/ufw", join(dir, "ufw/etc-ufw")],
    ["/lib/ufw", join(dir, "ufw/lib-ufw")],
    ["/etc/default/ufw", join(dir, "ufw/etc-default-ufw")],
  ];
  mkdirSync(join(dir, "ufw"), { recursive: true });
  for (const [from, to] of copies) {
    cpSync(from, to, { recursive: true, preserveTimestamps: true });
    await run.run("mount", ["--bind", to, from], { mutates: true });
  }
  await run.run("ufw", ["default", "deny", "incoming"], { mutates: true });
  await run.run("ufw", ["--force", "enable"], { mutates: true });
}
