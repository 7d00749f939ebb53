import { Argument, Command, CommanderError, Option } from "commander";
import { UnsafePlanError, UserError, errorMessage } from "../core/errors.js";
import { LockHeldError } from "../run/lock.js";
import { packageVersion } from "../core/package-info.js";
import type { ApplyOptions } from "./commands/apply.js";
import type { DaemonCliOptions } from "./commands/daemon.js";
import type { ImportCliOptions } from "./commands/import.js";
import type { PlanOptions } from "./commands/plan.js";
import type { RollbackOptions } from "./commands/rollback.js";
import type { SecretOptions } from "./commands/secret.js";
import type { StatusOptions } from "./commands/status.js";
import type { SuspendOptions } from "./commands/suspend.js";
import { bashCompletion, zshCompletion } from "./completion.js";
import { ExitCode, processOutput, type Output } from "./output.js";

/**
 * The `tack` command line (contract: design.md "CLI"). Commands are declared here as data; each handler lives in
 * commands/<name>.ts and writes through an Output so tests can run it in-process. Unknown commands and flags
 * print usage and exit 1. Each handler is imported when its command runs (the drivers, the Cloudflare SDK, SQLite
 * and the YAML/zod loaders cost over a second and ~150 MB at start-up), so --help and --version load none of them.
 *
 * Over 80 lines on purpose: it is the CLI's synopsis, one short declaration per command, read top to bottom like
 * `tack --help`; split up, the commands and their flags would no longer be seen together.
 */
export function buildProgram(o: Output = processOutput): Command {
  const program = new Command("tack")
    .description("GitOps for a Linux host: converge systemd/Compose runtimes, Nginx Proxy Manager, UFW and Cloudflare DNS from git")
    .version(packageVersion())
    .showHelpAfterError(true)
    .configureOutput({ writeOut: (s) => o.out(s.trimEnd()), writeErr: (s) => o.err(s.trimEnd()) })
    .exitOverride();

  program
    .command("validate")
    .description("check a desired-state repo offline: schema, referenced files, cross-references")
    .argument("[dir]", "desired-state repo", ".")
    .option("--host <name>", "validate only this Host of a fleet")
    .addOption(new Option("--format <format>", "output format").choices(["text", "json"]).default("text"))
    .action(async (dir: string, opts: { host?: string; format: "text" | "json" }) => (await import("./commands/validate.js")).validateCommand(dir, opts, o));

  program
    .command("plan")
    .description("show what tack would change: on this host (default), offline, or between two git revisions (pull requests)")
    .argument("[dir]", "desired-state repo", ".")
    .option("--host <name>", "the Host of a fleet to plan")
    .addOption(new Option("--format <format>", "output format").choices(["text", "markdown", "json"]).default("text"))
    .option("--detailed-exitcode", "exit 0 when there are no changes, 2 when there are (1 still means failure)")
    .option("--offline", "plan against an empty host without observing anything")
    .option("--repo <path>", "git repo for a pull request plan")
    .option("--base <rev>", "base revision: the plan starts from its merge-base with --head, as git diff base...head")
    .option("--base-exact", "start from --base itself, not from its merge-base with --head")
    .option("--head <rev>", "head revision (what merging would apply)")
    .option("--path <dir>", "desired-state directory inside --repo", ".")
    .option("--out <file>", "save the plan (JSON) for tack apply FILE")
    .option("--state-dir <dir>", "tack's state dir (default /var/lib/tack or $TACK_STATE_DIR)")
    .option("--age-identity <file>", "the host's age identity, to decrypt the repo's secrets (default <state-dir>/age-identity.txt)")
    .action(async (dir: string, opts: PlanOptions) => (await import("./commands/plan.js")).planCommand(dir, opts, o));

  program
    .command("apply")
    .description("converge this host on the desired state, phase by phase, with health gates and automatic rollback")
    .argument("[target]", "desired-state repo, or a plan saved with tack plan --out", ".")
    .option("--yes", "do not ask before applying")
    .option("--host <name>", "the Host of a fleet to apply")
    .option("--state-dir <dir>", "tack's state dir (default /var/lib/tack or $TACK_STATE_DIR)")
    .option("--age-identity <file>", "the host's age identity, to decrypt the repo's secrets (default <state-dir>/age-identity.txt)")
    .action(async (target: string, opts: ApplyOptions) => (await import("./commands/apply.js")).applyCommand(target, opts, o));

  program
    .command("import")
    .description("write the live host (NPM, UFW, Cloudflare, a compose project, units) as a desired-state directory, every resource marked for adoption")
    .requiredOption("--out <dir>", "the desired-state directory to write (tack.yaml, units/, compose/)")
    .option("--host <name>", "metadata.name of the Host (default: the machine's hostname)")
    .option("--force", "replace a tack.yaml already in --out")
    .option("--dry-run", "print what would be written; write nothing")
    .option("--npm-data-dir <dir>", "NPM's data dir (database.sqlite, nginx/proxy_host/); default: what its container mounts at /data")
    .option("--npm-container <name>", "NPM's container", "nginx-proxy-manager")
    .option("--npm-network <name>", "NPM's Docker network", "npm_default")
    .option("--domains <list>", "import NPM's proxy hosts with one of these domains (comma-separated; *.example.org for a subtree, * for all)")
    .option("--no-ufw", "do not import UFW's rules")
    .option("--zone <zone>", "Cloudflare zone whose records to import")
    .option("--token-env <name>", "environment variable holding the Cloudflare API token (written as a reference, never the token)", "CLOUDFLARE_API_TOKEN")
    .option("--compose-project <name>", "the compose project to import (its files are copied into compose/)")
    .option("--units <pattern>", "systemd units to import, e.g. 'shop-*' (their files are copied into units/)")
    .addOption(new Option("--systemd-scope <scope>", "the manager of --units").choices(["system", "user"]).default("system"))
    .action(async (opts: ImportCliOptions) => (await import("./commands/import.js")).importCommand(opts, o));

  program
    .command("demo")
    .description("the pull request plan of islandflow's native cutover, offline (the live cutover in a sandbox host: npm run demo)")
    .action(async () => (await import("./commands/demo.js")).offlineDemo(o, runCli));

  program
    .command("daemon")
    .description("the agent: follow a git branch (or a directory), converge on each revision, heal drift, serve /status and /metrics")
    .requiredOption("--repo <url>", "git URL or path of the desired-state repo (a plain directory is watched, for development)")
    .option("--branch <name>", "branch to follow", "main")
    .option("--path <dir>", "desired-state directory inside the repo", ".")
    .option("--interval <duration>", "poll interval (jittered ±10%)", "30s")
    .option("--listen <host:port>", "HTTP listener: the status page at /, /healthz /readyz /status /metrics POST /hooks/git", "127.0.0.1:9469")
    .option("--state-dir <dir>", "tack's state dir (default /var/lib/tack or $TACK_STATE_DIR)")
    .option("--webhook-secret-file <file>", "shared secret for POST /hooks/git (GitHub X-Hub-Signature-256, or X-Tack-Token)")
    .option("--age-identity <file>", "the host's age identity, to decrypt the repo's secrets (default <state-dir>/age-identity.txt)")
    .option("--ui-token-file <file>", "bearer token of the status page; required when --listen is not a loopback address")
    .option("--host <name>", "the Host of a fleet this agent reconciles (default: the machine's hostname)")
    .option("--allow-rewind", "apply a branch head that does not descend from the applied revision (force-push)")
    .option("--verify-signatures", "apply only commits that git verify-commit accepts")
    .option("--allowed-signers <file>", "SSH allowed signers file for --verify-signatures")
    .option("--gpg-home <dir>", "GNUPGHOME with the trusted keyring for --verify-signatures")
    .option("--drift-interval <duration>", "override policy.drift.interval")
    .action(async (opts: DaemonCliOptions) => (await import("./commands/daemon.js")).daemonCommand(opts, o));

  program
    .command("status")
    .description("the agent's state: desired and applied revision, last run, drift, suspension (from the agent, else the state DB)")
    .option("--state-dir <dir>", "tack's state dir (default /var/lib/tack or $TACK_STATE_DIR)")
    .option("--listen <host:port>", "the agent's listener (default: the one it published in the state DB)")
    .addOption(new Option("--format <format>", "output format").choices(["text", "json"]).default("text"))
    .action(async (opts: StatusOptions) => (await import("./commands/status.js")).statusCommand(opts, o));

  program
    .command("suspend")
    .description("break-glass: apply nothing until resumed or until --for has passed (observation and metrics go on)")
    .requiredOption("--for <duration>", "how long, e.g. 2h")
    .requiredOption("--reason <text>", "why (shown in tack status)")
    .option("--state-dir <dir>", "tack's state dir (default /var/lib/tack or $TACK_STATE_DIR)")
    .option("--listen <host:port>", "the agent's listener (default: the one it published in the state DB)")
    .action(async (opts: SuspendOptions) => (await import("./commands/suspend.js")).suspendCommand(opts, o));

  program
    .command("resume")
    .description("end a suspension now")
    .option("--state-dir <dir>", "tack's state dir (default /var/lib/tack or $TACK_STATE_DIR)")
    .option("--listen <host:port>", "the agent's listener (default: the one it published in the state DB)")
    .action(async (opts: { stateDir?: string; listen?: string }) => (await import("./commands/resume.js")).resumeCommand(opts, o));

  program
    .command("rollback")
    .description("apply an earlier good revision from the state dir (default: the one before the current); through the running agent if one answers")
    .option("--to <rev>", "the good revision to go back to")
    .option("--host <name>", "the Host of a fleet")
    .option("--state-dir <dir>", "tack's state dir (default /var/lib/tack or $TACK_STATE_DIR)")
    .option("--age-identity <file>", "the host's age identity, to decrypt the repo's secrets (default <state-dir>/age-identity.txt)")
    .option("--listen <host:port>", "the agent's listener (default: the one it published in the state DB)")
    .action(async (opts: RollbackOptions) => (await import("./commands/rollback.js")).rollbackCommand(opts, o));

  program
    .command("secret")
    .description("encrypt a file to the repo's age recipients, or edit an .age file (decrypt to a private temp file, $EDITOR, re-encrypt)")
    .addArgument(new Argument("<action>", "encrypt FILE, or edit FILE.age").choices(["encrypt", "edit"]))
    .argument("<file>", "the plaintext to encrypt, or the .age file to edit")
    .option("--recipients <file>", "age recipients, one a line (default: secrets.recipients of the nearest tack.yaml)")
    .option("--identity <file>", "edit: the age identity that decrypts FILE.age (default <state-dir>/age-identity.txt)")
    .option("--out <file>", "encrypt: where the .age file goes (default FILE.age)")
    .option("--state-dir <dir>", "tack's state dir (default /var/lib/tack or $TACK_STATE_DIR)")
    .action(async (action: "encrypt" | "edit", file: string, opts: SecretOptions) => (await import("./commands/secret.js")).secretCommand(action, file, opts, o));

  program
    .command("completion")
    .description("print a shell completion script: eval \"$(tack completion bash)\" in ~/.bashrc, or tack completion zsh > \"${fpath[1]}/_tack\"")
    .addArgument(new Argument("<shell>", "the shell").choices(["bash", "zsh"]))
    .action((shell: "bash" | "zsh") => o.out((shell === "bash" ? bashCompletion : zshCompletion)(program).trimEnd()));

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
    if (err instanceof UserError || err instanceof UnsafePlanError || err instanceof LockHeldError) {
      o.err(`error: ${err.message}`);
      return 1;
    }
    o.err(`error: ${errorMessage(err)}`);
    return 1;
  }
}
