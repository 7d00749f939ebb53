import { mkdir, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import path from "node:path";

export const RESULTS_DIR = path.join(import.meta.dirname, "results");

/**
 * One JSON file per benchmark in bench/results/, stamped with when it ran and the load average then (2 cores,
 * shared with other people's test suites: a figure is read beside the load it was measured under).
 */
export async function writeResult(name: string, data: unknown): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${name}.json`);
  await writeFile(file, JSON.stringify({ benchmark: name, finishedAt: new Date().toISOString(), loadAverage: loadavg().map((x) => Math.round(x * 100) / 100), ...(data as object) }, null, 2) + "\n");
  process.stderr.write(`bench ${name}: wrote ${path.relative(process.cwd(), file)}\n`);
  return file;
}
