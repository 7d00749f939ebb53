import { readFileSync } from "node:fs";
import { parseDuration } from "../../desired-state/durations.js";
import { UserError } from "../../core/errors.js";
import { startDaemon, type DaemonOptions } from "../../agent/daemon.js";
import { DEFAULT_LISTEN } from "../../agent/agent-client.js";
import { readUiToken } from "../../agent/ui/ui-access.js";
import { stateDirOf } from "../context.js";
import type { Output } from "../output.js";

export interface DaemonCliOptions {
  repo: string;
  branch: string;
  path: string;
  interval: string;
  listen: string;
  stateDir?: string;
  webhookSecretFile?: string;
  ageIdentity?: string;
  uiTokenFile?: string;
  host?: string;
  allowRewind?: boolean;
  verifySignatures?: boolean;
  allowedSigners?: string;
  gpgHome?: string;
  driftInterval?: string;
}

function duration(flag: string, text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms < 1000) throw new UserError(`${flag} ${text}: a duration of at least 1s (e.g. 30s, 5m)`);
  return ms;
}

/** Secrets come from files (design.md Safety): the webhook secret file, trimmed, never echoed. */
function readSecret(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8").trim();
  } catch (err) {
    throw new UserError(`--webhook-secret-file ${file}: ${(err as Error).message}`);
  }
  if (text.length < 16) throw new UserError(`--webhook-secret-file ${file}: the secret must be at least 16 characters`);
  return text;
}

/**
 * Fault injection for crash tests, as `tack apply` has it: TACK_FAULT_KILL_BEFORE_PHASE=<phase> makes the agent
 * SIGKILL itself once a step of that phase is journaled as started, before it runs — a real crash.
 */
function faultInjection(): Pick<DaemonOptions, "beforeStep"> {
  const phase = process.env.TACK_FAULT_KILL_BEFORE_PHASE;
  if (!phase) return {};
  return { beforeStep: (step) => void (step.phase === phase && process.kill(process.pid, "SIGKILL")) };
}

/** `tack daemon`: run the agent until SIGTERM/SIGINT, then stop cleanly (exit 0). */
export async function daemonCommand(opts: DaemonCliOptions, o: Output): Promise<void> {
  const options: DaemonOptions = {
    repo: opts.repo,
    branch: opts.branch,
    path: opts.path,
    intervalMs: duration("--interval", opts.interval),
    listen: opts.listen || DEFAULT_LISTEN,
    stateDir: stateDirOf(opts.stateDir),
    log: (line) => o.err(`tack daemon: ${line}`),
    ...(opts.webhookSecretFile ? { webhookSecret: readSecret(opts.webhookSecretFile) } : {}),
    ...(opts.ageIdentity ? { ageIdentity: opts.ageIdentity } : {}),
    ...(opts.uiTokenFile ? { uiToken: readUiToken(opts.uiTokenFile) } : {}),
    ...(opts.host ? { host: opts.host } : {}),
    ...(opts.allowRewind ? { allowRewind: true } : {}),
    ...(opts.verifySignatures ? { verifySignatures: true } : {}),
    ...(opts.allowedSigners ? { allowedSignersFile: opts.allowedSigners } : {}),
    ...(opts.gpgHome ? { gpgHome: opts.gpgHome } : {}),
    ...(opts.driftInterval ? { driftIntervalMs: duration("--drift-interval", opts.driftInterval) } : {}),
    ...faultInjection(),
  };
  const daemon = await startDaemon(options);
  await new Promise<void>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      o.err(`tack daemon: ${sig}: finishing the current step, then stopping`);
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
      daemon.stop().then(resolve, (err: unknown) => {
        o.err(`tack daemon: stop failed: ${(err as Error).message}`);
        resolve();
      });
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
}
