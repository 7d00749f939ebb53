import { randomBytes } from "node:crypto";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

/**
 * Write a file so no reader ever sees half of it: a temp file beside it, then a rename (atomic on one filesystem).
 * The temp name ends in `.tmp`, never in the target's extension: nginx includes `proxy_host/*.conf` and systemd
 * scans `*.service`, so a half-written temp file must not match their globs.
 */
export async function writeFileAtomic(file: string, data: string, options: { mode?: number } = {}): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.tack-${process.pid}-${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(tmp, data, options.mode !== undefined ? { mode: options.mode } : {});
  await rename(tmp, file);
}
