import { constants } from "node:fs";
import { access, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { CommandError } from "../../core/errors.js";
import type { Runner } from "../../core/runner.js";
import { contentHash } from "./unit-plan.js";

/**
 * `systemd-analyze verify` of unit files before they are installed: at apply time only, since the binaries a unit
 * names must exist on this host (design.md). All the files of a call go to one process (one process per unit cost
 * ~0.05–0.1 s each: 47 units of the benchmark's size b were 2.5 s); when that fails, each file alone, so the error
 * names the unit at fault with its own message. A file that passed is not verified again by this verifier.
 */
export interface UnitFile {
  name: string;
  content: string;
}

/** verify refused a unit file: `unit` is the one at fault (or the first, when only the files together fail). */
export class UnitRejected extends Error {
  constructor(
    readonly unit: string,
    cause: unknown,
  ) {
    super(cause instanceof CommandError ? cause.stderr.trim() || cause.message : cause instanceof Error ? cause.message : String(cause), { cause });
  }
}

export class UnitVerifier {
  private available: Promise<boolean> | undefined;
  private readonly passed = new Set<string>();

  constructor(
    private readonly runner: Runner,
    private readonly scopeArgs: string[],
    private readonly path: string | undefined,
  ) {}

  /** Resolves when every file passes (or systemd-analyze is not installed); rejects with a UnitRejected. */
  async verify(files: UnitFile[]): Promise<void> {
    const todo = [...new Map(files.filter((f) => !this.passed.has(keyOf(f))).map((f) => [f.name, f])).values()];
    if (todo.length === 0) return;
    this.available ??= onPath("systemd-analyze", this.path);
    if (!(await this.available)) return;
    try {
      await this.run(todo);
    } catch (together) {
      if (todo.length === 1) throw new UnitRejected(todo[0]!.name, together);
      for (const f of todo) {
        await this.run([f]).catch((alone: unknown) => {
          throw new UnitRejected(f.name, alone);
        });
      }
      // Each passes alone, not together (e.g. two files claiming one alias): the whole call's message says why.
      throw new UnitRejected(todo[0]!.name, together);
    }
    for (const f of todo) this.passed.add(keyOf(f));
  }

  private async run(files: UnitFile[]): Promise<void> {
    // verify reads the unit type from the file name, so the copies keep the units' names.
    const dir = await mkdtemp(join(tmpdir(), "tack-verify-"));
    try {
      const paths = files.map((f) => join(dir, f.name));
      await Promise.all(files.map((f, i) => writeFile(paths[i]!, f.content)));
      await this.runner.run("systemd-analyze", [...this.scopeArgs, "verify", ...paths], {});
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

function keyOf(f: UnitFile): string {
  return `${f.name}\n${contentHash(f.content)}`;
}

async function onPath(bin: string, path: string | undefined): Promise<boolean> {
  for (const dir of (path ?? "/usr/bin:/bin").split(delimiter)) {
    try {
      await access(join(dir, bin), constants.X_OK);
      return true;
    } catch {
      // keep looking
    }
  }
  return false;
}
