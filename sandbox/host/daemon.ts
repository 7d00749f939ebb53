import { spawn } from "node:child_process";
import { openSync } from "node:fs";

/** Starts a long-running process with its output in `logFile`; it dies with the sandbox's pid namespace. */
export function startDaemon(file: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): number {
  const fd = openSync(logFile, "a");
  const child = spawn(file, args, { stdio: ["ignore", fd, fd], env });
  child.on("error", () => undefined); // surfaces as a readiness timeout, with the log to read
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${file}`);
  return child.pid;
}

/** Thrown by a check to stop waiting at once (the thing waited for has died). */
export class FatalWait extends Error {}

/** Polls `check` until it returns true, or throws `what` with the log hint after `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await check().catch((e: unknown) => {
      if (e instanceof FatalWait) throw e;
      return false;
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
