/**
 * The proxy-host confs under `<dataDir>/nginx/proxy_host/` (`<id>.conf`, and `<id>.conf.err` for a conf nginx
 * refused, as NPM names it), written atomically so nginx never reads half a file.
 */
import { writeFileAtomic } from "../../core/atomic-write.js";
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

  read(id: number): Promise<string | undefined> {
    return readIfExists(this.path(id));
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
