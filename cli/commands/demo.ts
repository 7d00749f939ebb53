import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { simpleGit } from "simple-git";
import { packageRoot } from "../../core/package-info.js";
import { runCliStep, type RunCli } from "../run-step.js";
import type { Output } from "../output.js";

// From the package root, not this file: the compiled file sits one level deeper (dist/cli/commands/).
export const EXAMPLE_DIR = path.join(packageRoot(), "examples/islandflow");

/**
 * The offline demo: what a reviewer sees. Validates the islandflow example, then makes a throw-away git repo
 * with the Docker-owned example on main and the native cutover on a branch, and prints the pull request plan.
 * Touches nothing on this host. The live demo (`npm run demo`, demo/main.ts) runs a real agent in a sandbox host.
 */
export async function offlineDemo(o: Output, run: RunCli): Promise<void> {
  const work = await mkdtemp(path.join(tmpdir(), "tack-demo-"));
  try {
    const repo = path.join(work, "islandflow");
    await cp(EXAMPLE_DIR, repo, { recursive: true });
    const git = simpleGit(repo);
    await git.init(["-b", "main"]).addConfig("user.email", "demo@tack.invalid").addConfig("user.name", "tack demo");
    await git.add(".").commit("islandflow: Docker owns every scope");
    o.out("$ tack validate examples/islandflow");
    await runCliStep(run, ["validate", repo], o);
    const file = path.join(repo, "tack.yaml");
    const text = await readFile(file, "utf8");
    await writeFile(file, text.replace(/^(\s+)owner: docker$/gm, "$1owner: native"));
    await git.checkout(["-b", "native-cutover"]).add(".").commit("Cut api, workers, ingest-options and web over to native");
    o.out("\n$ git diff main native-cutover -- tack.yaml");
    o.out((await git.diff(["main", "native-cutover", "--", "tack.yaml"])).trimEnd());
    o.out("\n$ tack plan --repo . --base main --head native-cutover --format markdown");
    await runCliStep(run, ["plan", "--repo", repo, "--base", "main", "--head", "native-cutover", "--format", "markdown"], o);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
