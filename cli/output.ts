import { formatFinding, sortFindings, type Finding } from "../core/findings.js";

/** Where commands write: injectable so tests capture output without spawning a process. */
export interface Output {
  out(line: string): void;
  err(line: string): void;
}

export const processOutput: Output = {
  out: (line) => process.stdout.write(line + "\n"),
  err: (line) => process.stderr.write(line + "\n"),
};

export function printFindings(o: Output, findings: Finding[]): void {
  for (const f of sortFindings(findings)) (f.severity === "error" ? o.err : o.out)(formatFinding(f));
}

/** Thrown by a command handler to end with an exit code after it printed what it had to say. */
export class ExitCode extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}
