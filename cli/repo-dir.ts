import { stat } from "node:fs/promises";
import path from "node:path";
import { UserError } from "../core/errors.js";

/**
 * The desired-state directory a command was given: a directory, or its `tack.yaml` (so `tack validate
 * infra/tack.yaml` works as people type it). A path that does not exist says so, instead of "no tack.yaml".
 */
export async function requireDirectory(arg: string): Promise<string> {
  const abs = path.resolve(arg);
  const st = await stat(abs).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") throw new UserError(`${arg} does not exist: give the desired-state directory (the one holding tack.yaml)`);
    throw new UserError(`cannot read ${arg}: ${err.message}`);
  });
  if (st.isDirectory()) return abs;
  if (st.isFile() && path.basename(abs) === "tack.yaml") return path.dirname(abs);
  throw new UserError(`${arg} is not a directory: give the desired-state directory, or its tack.yaml`);
}
