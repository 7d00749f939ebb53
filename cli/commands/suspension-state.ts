import type { DaemonStatus } from "../../agent/status.js";
import { callAgent } from "../../agent/agent-client.js";
import { readSuspension, type Suspension } from "../../agent/suspension.js";
import type { Journal } from "../../run/journal.js";

/**
 * The suspension in force before `tack suspend|resume` changes it, so the command can say what it replaces or
 * that there was nothing to end: the running agent's view when one answers, else the state DB's.
 */
export async function currentSuspension(journal: Journal, url: string): Promise<{ suspension: Suspension | undefined; agent: boolean }> {
  const answer = await callAgent(url, "/status");
  if (answer?.status === 200) return { suspension: (answer.body as Partial<DaemonStatus>).suspension ?? undefined, agent: true };
  return { suspension: readSuspension(journal), agent: false };
}

export function describeSuspension(s: Suspension): string {
  return `until ${s.until} by ${s.by}: ${s.reason}`;
}
