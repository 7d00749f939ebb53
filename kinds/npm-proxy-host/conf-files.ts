/**
 * The proxy-host confs under `<dataDir>/nginx/proxy_host/` (`<id>.conf`, and `<id>.conf.err` for a conf nginx
 * refused, as NPM names it), written atomically so nginx never reads half a file.
 */
import { randomBytes } from "node:crypto";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

export async function writeAtomic(file: string, text: string): Promise<void> {
  // The temp name must not end in .conf: nginx includes proxy_host/*.conf and could load a half-written file.
  const tmp = `${file}.tack-${process.pid}-${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(tmp, text, { mode: 0o644 });
  await rename(tmp, file);
}

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
