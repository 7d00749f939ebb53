import type { Output } from "./output.js";

/** Runs a tack command in-process and gives its exit code (program.ts's runCli, handed down to avoid an import cycle). */
export type RunCli = (argv: string[], o: Output) => Promise<number>;

/** Run a tack command in-process (the demo chains several) and fail loudly if it fails. */
export async function runCliStep(run: RunCli, argv: string[], o: Output): Promise<void> {
  const code = await run(argv, o);
  if (code !== 0) throw new Error(`tack ${argv.join(" ")} exited ${code}`);
}
