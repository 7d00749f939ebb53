/**
 * The proxy-host confs under `<dataDir>/nginx/proxy_host/` (`<id>.conf`, and `<id>.conf.err` for a conf nginx
 * refused, as NPM names it), written atomically so nginx never reads half a file.
 */
import { writeFileAtomic } from "../../core/atomic-write.js";
import { readFileSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";

// The temp name never ends in .conf (core/atomic-write.ts): nginx includes proxy_host/*.conf.
const writeAtomic = (file: string, text: string) => writeFileAtomic(file, text, { mode: 0o644 });

export async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

export class ConfFiles {
  constructor(private readonly dir: string) {}

  path(id: number): string {
    return join(this.dir, `${id}.conf`);
  }

  /**
   * Read synchronously: an observe reads every conf (800 at bench size c), and fs/promises' readFile takes several
   * thread-pool round trips per file — 800 confs of 4 KB took 90–270 ms (50–90 ms of CPU) that way, 16–30 ms
   * (8–10 ms) read synchronously, measured here. A conf is a few KB; the event loop waits no longer than that.
   */
  read(id: number): Promise<string | undefined> {
    try {
      return Promise.resolve(readFileSync(this.path(id), "utf8"));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return Promise.resolve(undefined);
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Writes the conf, or removes it when there is none (a disabled host renders no conf). */
  async put(id: number, conf: string | undefined): Promise<void> {
    if (conf === undefined) await this.remove(id);
    else await writeAtomic(this.path(id), conf);
  }

  async remove(id: number): Promise<void> {
    await rm(this.path(id), { force: true });
  }

  /** Keeps a conf nginx refused beside the live one, for whoever looks into why. */
  async keepRefused(id: number, conf: string): Promise<void> {
    await writeAtomic(`${this.path(id)}.err`, conf);
  }

  async removeRefused(id: number): Promise<void> {
    await rm(`${this.path(id)}.err`, { force: true });
  }
}
