import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { expect } from "vitest";

const DIR = path.join(import.meta.dirname, "golden");

/** Compare with test/pr-plan/golden/<name>; `UPDATE_GOLDEN=1` rewrites the file instead (review the diff). */
export async function expectGolden(name: string, actual: string): Promise<void> {
  const file = path.join(DIR, name);
  if (process.env.UPDATE_GOLDEN === "1") {
    await mkdir(DIR, { recursive: true });
    await writeFile(file, actual);
    return;
  }
  if (!existsSync(file)) throw new Error(`no golden file ${name}: run with UPDATE_GOLDEN=1 and review it`);
  expect(actual).toBe(await readFile(file, "utf8"));
}
