import { agentUrl, callAgent } from "../../agent/agent-client.js";
import { whoAmI } from "../../agent/daemon.js";
import { makeSuspension, writeSuspension } from "../../agent/suspension.js";
import { UserError } from "../../core/errors.js";
import { Journal } from "../../run/journal.js";
import { stateDirOf } from "../context.js";
import type { Output } from "../output.js";
import { currentSuspension, describeSuspension } from "./suspension-state.js";

export interface SuspendOptions {
  for: string;
  reason: string;
  stateDir?: string;
  listen?: string;
}

/** `tack suspend --for 2h --reason TEXT`: through the running agent, else written to the state DB. */
export async function suspendCommand(opts: SuspendOptions, o: Output): Promise<void> {
  const by = whoAmI();
  const s = makeSuspension(opts.for, opts.reason, by); // validates before anything is sent
  const journal = new Journal(stateDirOf(opts.stateDir));
  try {
    const url = agentUrl(journal, opts.listen);
    const before = await currentSuspension(journal, url);
    if (before.suspension) o.out(`This replaces the suspension ${describeSuspension(before.suspension)}`);
    const answer = await callAgent(url, "/suspend", { method: "POST", body: { for: opts.for, reason: opts.reason, by } });
    if (answer && answer.status !== 200) throw new UserError(`the agent refused: ${JSON.stringify(answer.body)}`);
    if (!answer) writeSuspension(journal, s);
    const until = answer ? (answer.body as { until: string }).until : s.until;
    o.out(`Suspended until ${until}${answer ? "" : " (no agent answered: written to the state DB)"}. Nothing is applied meanwhile; tack resume ends it.`);
  } finally {
    journal.close();
  }
}
