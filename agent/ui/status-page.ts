import { readFileSync } from "node:fs";
import type { ResolvedHost, SecretRef } from "../../core/resources.js";
import type { Journal } from "../../run/journal.js";
import type { AgentStatus } from "../status.js";
import { Masker } from "./html.js";
import { renderPage, sectionsEvent } from "./page.js";
import type { PageData } from "./sections.js";
import type { UiHandlers } from "./ui-routes.js";

/**
 * The status page of a running agent: its status snapshot, the steps of its last run from the journal, and a
 * masker that knows the agent's own secrets (webhook secret, UI token, the Cloudflare token) so none is ever shown.
 */
export interface StatusPageDeps {
  status: AgentStatus;
  journal: Journal;
  uiToken: string | undefined;
  webhookSecret: () => string | undefined;
  lastHost: () => ResolvedHost | undefined;
  env: NodeJS.ProcessEnv;
}

function secretValue(ref: SecretRef | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (!ref) return undefined;
  if ("env" in ref) return env[ref.env];
  try {
    return readFileSync(ref.file, "utf8").trim();
  } catch {
    return undefined; // unreadable here: the agent could not use it either, so it cannot leak through us
  }
}

export function statusPage(d: StatusPageDeps): UiHandlers {
  const masker = () => new Masker([d.webhookSecret(), d.uiToken, secretValue(d.lastHost()?.cloudflare?.token, d.env)]);
  const data = (): PageData => {
    const status = d.status.snapshot();
    const ids = new Set([status.lastRun?.id, ...status.recentReconciles.map((r) => r.runId)].filter((id): id is number => id !== undefined));
    return { status, steps: Object.fromEntries([...ids].map((id) => [id, d.journal.steps(id)])), now: Date.now() };
  };
  return {
    token: d.uiToken,
    page: () => renderPage(data(), masker()),
    event: () => sectionsEvent(data(), masker()),
    subscribe: (changed) => d.status.subscribe(() => changed()),
  };
}
