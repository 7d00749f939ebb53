import type { Phase } from "./changes.js";
import { formatFinding, type Finding } from "./findings.js";
import { formatRef, type ResourceRef } from "./refs.js";

/**
 * Behaviours as in Flux: a UserError is terminal (bad desired state: say why, never retry); a TransientError is
 * retried with backoff and never condemns a revision; a HostError says the host is not ready (a token variable is
 * missing, NPM's container is gone, no Compose): the agent stalls with the reason until a person fixes the host;
 * the rest (UnsafePlanError, ApplyError) stop the run with what is known. Every class keeps its cause.
 */
export class TackError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The desired state (or the user's command line) is wrong. Carries every diagnostic, not just the first. */
export class UserError extends TackError {
  readonly findings: Finding[];
  constructor(message: string, findings: Finding[] = []) {
    super(findings.length ? `${message}\n${findings.map((f) => "  " + formatFinding(f)).join("\n")}` : message);
    this.findings = findings;
  }
}

/** Worth trying again later: a locked database, a 429, an unreachable daemon. */
export class TransientError extends TackError {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    super(message, options);
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/** The host lacks something tack needs, which no commit can fix: a token variable, NPM's container, Compose. */
export class HostError extends TackError {}

/** A guard refused the plan. */
export class UnsafePlanError extends TackError {
  readonly findings: Finding[];
  constructor(findings: Finding[]) {
    super(`plan refused by ${findings.length} blocking finding(s):\n${findings.map((f) => "  " + formatFinding(f)).join("\n")}`);
    this.findings = findings;
  }
}

/** A step failed while applying; says which, in which phase, and what had been applied before it. */
export class ApplyError extends TackError {
  readonly ref: ResourceRef | undefined;
  readonly phase: Phase;
  readonly applied: ResourceRef[];
  constructor(
    message: string,
    options: { ref?: ResourceRef; phase: Phase; cause?: unknown; applied?: ResourceRef[] },
  ) {
    const where = options.ref ? `${formatRef(options.ref)} (${options.phase})` : options.phase;
    super(`${where}: ${message}`, { cause: options.cause });
    this.ref = options.ref;
    this.phase = options.phase;
    this.applied = options.applied ?? [];
  }
}

/** An external command failed. Keeps the command line, exit code and stderr (as execa does). */
export class CommandError extends TackError {
  readonly command: string;
  readonly exitCode: number | undefined;
  readonly stderr: string;
  readonly stdout: string;
  constructor(command: string, exitCode: number | undefined, stderr: string, stdout = "", options?: { cause?: unknown }) {
    const tail = stderr.trim().split("\n").slice(-5).join("\n");
    super(`command failed (exit ${exitCode ?? "signal"}): ${command}${tail ? `\n${tail}` : ""}`, options);
    this.command = command;
    this.exitCode = exitCode;
    this.stderr = stderr;
    this.stdout = stdout;
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** What kind of failure this is, looking through causes (an ApplyError wraps the driver's error). */
export type FailureClass = "transient" | "host" | "failure";

export function failureClass(err: unknown): FailureClass {
  for (const e of causeChain(err)) {
    if (e instanceof TransientError) return "transient";
    if (e instanceof HostError) return "host";
  }
  return "failure";
}

/** An error and its causes, outermost first (bounded: a cause chain may loop). */
export function* causeChain(err: unknown): Generator<Error> {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) yield e;
}
