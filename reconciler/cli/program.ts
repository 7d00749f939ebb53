import { Command, CommanderError, Option } from "commander";
import { UserError, errorMessage } from "../core/errors.js";
import { validateCommand } from "./commands/validate.js";
import { ExitCode, processOutput, type Output } from "./output.js";

/**
 * The `tack` command line (contract: design.md "CLI"). Commands are declared here as data; each handler lives in
 * commands/<name>.ts and writes through an Output so tests can run it in-process. Unknown commands and flags
 * print usage and exit 1.
 */
export function buildProgram(o: Output = processOutput): Command {
  const program = new Command("tack")
    .description("GitOps for a Linux host: converge systemd/Compose runtimes, Nginx Proxy Manager, UFW and Cloudflare DNS from git")
    .version("0.1.0")
    .showHelpAfterError(true)
    .configureOutput({ writeOut: (s) => o.out(s.trimEnd()), writeErr: (s) => o.err(s.trimEnd()) })
    .exitOverride();

  program
    .command("validate")
    .description("check a desired-state repo offline: schema, referenced files, cross-references")
    .argument("[dir]", "desired-state repo", ".")
    .option("--host <name>", "validate only this Host of a fleet")
    .addOption(new Option("--format <format>", "output format").choices(["text", "json"]).default("text"))
    .action((dir: string, opts: { host?: string; format: "text" | "json" }) => validateCommand(dir, opts, o));

  for (const c of program.commands) c.exitOverride().showHelpAfterError(true);
  return program;
}

/** Run the CLI; resolves to the process exit code. */
export async function runCli(argv: string[], o: Output = processOutput): Promise<number> {
  const program = buildProgram(o);
  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (err) {
    if (err instanceof ExitCode) return err.code;
    if (err instanceof CommanderError) {
      // --help and --version exit 0; usage errors exit 1.
      return err.exitCode === 0 ? 0 : 1;
    }
    if (err instanceof UserError) {
      o.err(`error: ${err.message}`);
      return 1;
    }
    o.err(`error: ${errorMessage(err)}`);
    return 1;
  }
}
