import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { TackError } from "../core/errors.js";

/**
 * One tack per host: an exclusive lock file in the state dir naming its holder. A lock whose holder process is
 * gone (crash, SIGKILL) is stale and taken over.
 */
export class LockHeldError extends TackError {}

export interface LockHolder {
  pid: number;
  host: string;
  command: string;
  since: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export class StateLock {
  private constructor(private readonly file: string) {}

  static acquire(stateDir: string, command: string): StateLock {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const file = path.join(stateDir, "tack.lock");
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(file, "wx", 0o600);
        const holder: LockHolder = { pid: process.pid, host: hostname(), command, since: new Date().toISOString() };
        writeSync(fd, JSON.stringify(holder));
        closeSync(fd);
        return new StateLock(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        let holder: LockHolder | undefined;
        try {
          holder = JSON.parse(readFileSync(file, "utf8")) as LockHolder;
        } catch {
          holder = undefined; // half-written by a crashed holder: stale
        }
        if (holder && holder.pid !== process.pid && alive(holder.pid)) {
          throw new LockHeldError(
            `another tack holds the lock on ${stateDir}: pid ${holder.pid} (${holder.command}) since ${holder.since}; wait for it, or stop it`,
          );
        }
        rmSync(file, { force: true });
      }
    }
    throw new LockHeldError(`could not take the lock ${file}`);
  }

  release(): void {
    rmSync(this.file, { force: true });
  }
}
