import type { Journal } from "../run/journal.js";
import type { ListenerHandlers } from "./listener.js";
import type { TackMetrics } from "./metrics.js";
import type { RollbackRequests } from "./rollback-requests.js";
import type { Scheduler } from "./scheduler.js";
import type { DesiredSource } from "./sources.js";
import type { AgentStatus } from "./status.js";
import { makeSuspension, writeSuspension } from "./suspension.js";
import type { StatusPageDeps } from "./ui/status-page.js";
import { statusPage } from "./ui/status-page.js";

/**
 * What the agent's HTTP listener does for each route: readiness, the status snapshot, metrics, and the
 * loopback-only commands (suspend, resume, rollback) that `tack suspend|resume|rollback` send.
 */
export interface ControlDeps {
  webhookSecret: () => string | undefined;
  source: DesiredSource;
  journal: Journal;
  metrics: TackMetrics;
  status: AgentStatus;
  scheduler: Scheduler;
  rollbacks: RollbackRequests;
  log: (line: string) => void;
  page: Pick<StatusPageDeps, "uiToken" | "lastHost" | "env">;
}

export function controlHandlers(d: ControlDeps): ListenerHandlers {
  const { journal, metrics, status, scheduler, log } = d;
  return {
    webhookSecret: d.webhookSecret,
    ui: statusPage({ ...d.page, status, journal, webhookSecret: d.webhookSecret }),
    // A directory source has no remote to reach.
    ready: () => status.fields.ready && (d.source.kind === "dir" || status.fields.gitReachable),
    status: () => status.snapshot(),
    metrics: async () => ({ contentType: metrics.contentType, body: await metrics.metrics() }),
    gitHook: () => void scheduler.trigger("webhook"),
    suspend: (body) => {
      const s = makeSuspension(body.for ?? "", body.reason ?? "", body.by ?? "unknown");
      writeSuspension(journal, s);
      status.suspended(s);
      metrics.setSuspended(true);
      log(`suspended until ${s.until} by ${s.by}: ${s.reason}`);
      return { suspended: true, ...s };
    },
    resume: (by) => {
      writeSuspension(journal, undefined);
      status.suspended(undefined);
      metrics.setSuspended(false);
      log(`resumed${by ? ` by ${by}` : ""}`);
      void scheduler.trigger("resume");
      return { suspended: false };
    },
    rollback: (req) => {
      if (scheduler.stopping) return Promise.resolve({ status: 503, body: { error: "the agent is stopping" } });
      const answer = d.rollbacks.enqueue(req);
      void scheduler.trigger("rollback");
      return answer;
    },
  };
}
