import { readFileSync } from "node:fs";
import { parseDuration } from "../../desired-state/durations.js";
import { UserError } from "../../core/errors.js";
import { startDaemon, type DaemonOptions } from "../../agent/daemon.js";
import { MIN_SECRET_LENGTH } from "../../agent/file-secret.js";
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

/**
 * Secrets come from files (design.md Safety): the webhook secret file, trimmed, never echoed. It is read at each
 * webhook (agent/file-secret.ts), so it may be an age secret's target that the first converge writes; one that is
 * there already is checked now, so a typo is caught at start.
 */
function checkSecretFile(file: string, o: Output): void {
  let text: string;
  try {
    text = readFileSync(file, "utf8").trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      o.err(`tack daemon: --webhook-secret-file ${file} is not there yet: webhooks get 404 until it is (a secret's target is written by the first converge)`);
      return;
    }
    throw new UserError(`--webhook-secret-file ${file}: ${(err as Error).message}`);
  }
  if (text.length < MIN_SECRET_LENGTH) throw new UserError(`--webhook-secret-file ${file}: the secret must be at least ${MIN_SECRET_LENGTH} characters`);
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
  if (opts.webhookSecretFile) checkSecretFile(opts.webhookSecretFile, o);
  const options: DaemonOptions = {
    repo: opts.repo,
    branch: opts.branch,
    path: opts.path,
    intervalMs: duration("--interval", opts.interval),
    listen: opts.listen || DEFAULT_LISTEN,
    stateDir: stateDirOf(opts.stateDir),
    log: (line) => o.err(`tack daemon: ${line}`),
    ...(opts.webhookSecretFile ? { webhookSecretFile: opts.webhookSecretFile } : {}),
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
