import type { Output } from "./output.js";

/** Run a tack command in-process (the demo chains several) and fail loudly if it fails. */
export async function runCliStep(argv: string[], o: Output): Promise<void> {
  const { runCli } = await import("./program.js");
  const code = await runCli(argv, o);
  if (code !== 0) throw new Error(`tack ${argv.join(" ")} exited ${code}`);
}
