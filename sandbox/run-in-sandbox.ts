#!/usr/bin/env node
/**
 * `node --import tsx sandbox/run-in-sandbox.ts [--parts ufw,systemd,docker,npm] -- CMD ARGS...`
 * Runs CMD inside a fresh, isolated sandbox host (real UFW, systemd --user, dockerd, an NPM stand-in) and
 * exits with CMD's exit code. Needs root and unshare(2); never skips silently.
 */
import { runInSandbox } from "./host/launcher.js";
import { parseLauncherArgs } from "./host/parts.js";

try {
  process.exitCode = await runInSandbox(parseLauncherArgs(process.argv.slice(2)));
} catch (e) {
  process.stderr.write(`run-in-sandbox: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
