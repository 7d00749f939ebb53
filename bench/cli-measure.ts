import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { round, summarize } from "./stats.js";

/**
 * What a person typing `tack` waits for: fresh processes of the compiled CLI (bin/tack.js → dist/, as installed
 * from the package; bench/run.ts builds it first). Per run: wall time from spawn to exit, and the process's peak
 * RSS as GNU time reports it (`/usr/bin/time -f %M`, KB; its own fork adds about a millisecond).
 */
const BIN = path.resolve(import.meta.dirname, "../bin/tack.js");

export interface CliFigures {
  wallMs: ReturnType<typeof summarize>;
  peakRssMb: number;
  exitCodes: number[];
}

export async function measureCli(args: string[], runs: number, env: NodeJS.ProcessEnv = process.env): Promise<CliFigures> {
  const ms: number[] = [];
  const rss: number[] = [];
  const codes = new Set<number>();
  const tmp = await mkdtemp(path.join(tmpdir(), "tack-cli-bench-"));
  const rssFile = path.join(tmp, "rss");
  try {
    for (let i = 0; i < runs + 1; i++) {
      const t0 = performance.now();
      const r = await execa("/usr/bin/time", ["-f", "%M", "-o", rssFile, process.execPath, BIN, ...args], { env, reject: false });
      const t = performance.now() - t0;
      if (r.exitCode !== 0 && r.exitCode !== 2) throw new Error(`tack ${args.join(" ")} exited ${r.exitCode}: ${r.stderr}`);
      if (i === 0) continue; // warm-up: the page cache, not tack
      ms.push(t);
      rss.push(Number((await readFile(rssFile, "utf8")).trim().split("\n").at(-1)));
      codes.add(r.exitCode ?? -1);
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return { wallMs: summarize(ms), peakRssMb: round(Math.max(...rss) / 1024), exitCodes: [...codes] };
}
