import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

/**
 * Write a file so no reader ever sees half of it: a temp file beside it, then a rename (atomic on one filesystem).
 * The temp name ends in `.tmp`, never in the target's extension: nginx includes `proxy_host/*.conf` and systemd
 * scans `*.service`, so a half-written temp file must not match their globs. `beforeRename` runs on the temp file
 * (a chown, so the file is never visible with the wrong owner); a failure there removes the temp file.
 */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  options: { mode?: number; beforeRename?: (tmp: string) => Promise<void> } = {},
): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.tack-${process.pid}-${randomBytes(4).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, data, options.mode !== undefined ? { mode: options.mode } : {});
    await options.beforeRename?.(tmp);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
