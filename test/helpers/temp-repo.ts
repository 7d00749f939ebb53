import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach } from "vitest";

const made: string[] = [];

afterEach(async () => {
  await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

export const EXAMPLE = path.resolve(import.meta.dirname, "../../examples/islandflow");

/** A throw-away copy of a repo (the islandflow example by default), removed after the test. */
export async function tempRepo(from: string = EXAMPLE): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "tack-repo-"));
  made.push(dir);
  await cp(from, dir, { recursive: true });
  return dir;
}

export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "tack-test-"));
  made.push(dir);
  return dir;
}

/** Replace one exact piece of a file's text; fails loudly when the piece is not there. */
export async function edit(file: string, from: string, to: string): Promise<void> {
  const text = await readFile(file, "utf8");
  if (!text.includes(from)) throw new Error(`edit: ${JSON.stringify(from)} not found in ${file}`);
  await writeFile(file, text.replace(from, to));
}
