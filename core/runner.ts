import { execa } from "execa";
import { CommandError } from "./errors.js";

/**
 * Every external command tack runs goes through a Runner, so that:
 * - failures keep command, exit code and stderr (CommandError);
 * - tests can count what ran, and assert that a converged host sees zero mutating commands;
 * - a prefix (e.g. `nsenter -t PID -n -m`) can place every command inside a sandbox host.
 */
export interface RunOptions {
  /** The command changes the host. Read-only commands must leave it false. */
  mutates?: boolean;
  input?: string;
  env?: Record<string, string | undefined>;
  cwd?: string;
  timeoutMs?: number;
  /** Exit codes that are not failures (default: only 0). */
  okExitCodes?: number[];
  /** A program a person uses (an editor): the terminal is handed over (stdio inherited, no timeout, no output kept). */
  interactive?: boolean;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface CommandRecord {
  file: string;
  args: string[];
  mutates: boolean;
  exitCode: number | undefined;
  stderr: string;
  durationMs: number;
}

export interface Runner {
  run(file: string, args: string[], options?: RunOptions): Promise<RunResult>;
  /** Everything run so far through this runner, oldest first. */
  readonly history: readonly CommandRecord[];
  /**
   * Equal for runners that run commands the same way (same prefix, same added env), across processes; caches
   * kept in the state dir key on it. Undefined: outputs seen through this runner are kept in this process only.
   */
  readonly identity?: string;
}

export function quoteArg(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

export function formatCommand(file: string, args: string[]): string {
  return [file, ...args].map(quoteArg).join(" ");
}

export interface ExecaRunnerOptions {
  /** Prepended to every command: `["nsenter", "-t", "123", "-n", "-m"]`. */
  prefix?: string[];
  /** Environment added to every command. */
  env?: Record<string, string | undefined>;
  defaultTimeoutMs?: number;
}

export class ExecaRunner implements Runner {
  readonly history: CommandRecord[] = [];
  readonly identity: string;
  constructor(private readonly options: ExecaRunnerOptions = {}) {
    this.identity = JSON.stringify(["execa", options.prefix ?? [], Object.entries(options.env ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))]);
  }

  async run(file: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
    const prefix = this.options.prefix ?? [];
    const [bin, ...rest] = [...prefix, file, ...args] as [string, ...string[]];
    const started = performance.now();
    const result = await execa(bin, rest, {
      reject: false,
      cwd: options.cwd,
      env: { ...this.options.env, ...options.env },
      stripFinalNewline: false,
      ...(options.interactive ? { stdio: "inherit" as const } : { input: options.input, timeout: options.timeoutMs ?? this.options.defaultTimeoutMs ?? 120_000 }),
    });
    const exitCode = result.exitCode;
    const stdout = String(result.stdout ?? "");
    const stderr = String(result.stderr ?? "");
    this.history.push({
      file,
      args,
      mutates: options.mutates ?? false,
      exitCode,
      stderr,
      durationMs: performance.now() - started,
    });
    const ok = options.okExitCodes ?? [0];
    if (exitCode === undefined || !ok.includes(exitCode)) {
      const why = result.timedOut ? `timed out after ${options.timeoutMs ?? this.options.defaultTimeoutMs ?? 120_000} ms` : "";
      throw new CommandError(formatCommand(file, args), exitCode, [stderr, why].filter(Boolean).join("\n"), stdout, {
        cause: result.cause,
      });
    }
    return { stdout, stderr, exitCode };
  }

  /** Commands that changed the host, for convergence assertions. */
  mutations(): CommandRecord[] {
    return this.history.filter((r) => r.mutates);
  }
}
