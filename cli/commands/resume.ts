import { UserError } from "../../core/errors.js";
import { agentUrl, callAgent } from "../../agent/agent-client.js";
import { whoAmI } from "../../agent/daemon.js";
import { writeSuspension } from "../../agent/suspension.js";
import { Journal } from "../../run/journal.js";
import { stateDirOf } from "../context.js";
import type { Output } from "../output.js";
import { currentSuspension, describeSuspension } from "./suspension-state.js";

/** `tack resume`: end a suspension, through the running agent (which reconciles at once), else in the state DB. */
export async function resumeCommand(opts: { stateDir?: string; listen?: string }, o: Output): Promise<void> {
  const journal = new Journal(stateDirOf(opts.stateDir));
  try {
    const url = agentUrl(journal, opts.listen);
    const before = await currentSuspension(journal, url);
    if (!before.suspension) {
      o.out(`Nothing to resume: the agent is not suspended${before.agent ? "" : " (no agent answered; the state DB holds no suspension in force)"}.`);
      return;
    }
    o.out(`Ending the suspension ${describeSuspension(before.suspension)}`);
    const answer = await callAgent(url, "/resume", { method: "POST", body: { by: whoAmI() } });
    if (answer && answer.status !== 200) throw new UserError(`the agent refused: ${JSON.stringify(answer.body)}`);
    if (!answer) writeSuspension(journal, undefined);
    o.out(`Resumed${answer ? ": the agent reconciles now" : " (no agent answered: the state DB is updated)"}.`);
  } finally {
    journal.close();
  }
}
