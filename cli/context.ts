import { ExecaRunner } from "../core/runner.js";
import { Journal } from "../run/journal.js";
import type { ReconcileContext, ReconcileEvent } from "../run/reconcile.js";
import { renderPlan } from "../reports/render-plan.js";
import type { Output } from "./output.js";

export const DEFAULT_STATE_DIR = "/var/lib/tack";

export function stateDirOf(opt: string | undefined): string {
  return opt ?? process.env.TACK_STATE_DIR ?? DEFAULT_STATE_DIR;
}

/** Progress as it happens, one line per step, for people watching a terminal. */
export function progressPrinter(o: Output, options: { showPlan: boolean }): (e: ReconcileEvent) => void {
  return (e) => {
    switch (e.type) {
      case "plan":
        if (e.purpose === "apply" && options.showPlan) o.out(renderPlan(e.plan, e.host, "text").trimEnd());
        else if (e.purpose !== "apply") o.out(`${e.purpose} plan: ${e.plan.changes.length} change(s)`);
        break;
      case "exec": {
        const ev = e.event;
        const tag = e.purpose === "apply" ? "" : `[${e.purpose}] `;
        const n = `${ev.index + 1}/${ev.total}`;
        if (ev.type === "step-start") o.out(`${tag}→ ${n} ${ev.step.description}`);
        else if (ev.type === "step-done") o.out(`${tag}✓ ${n} ${ev.step.phase}${ev.step.scope ? ` [${ev.step.scope}]` : ""} (${ev.ms} ms)${ev.detail ? `: ${ev.detail}` : ""}`);
        else o.err(`${tag}✗ ${n} ${ev.step.phase}${ev.step.scope ? ` [${ev.step.scope}]` : ""} failed after ${ev.ms} ms: ${ev.error}`);
        break;
      }
      case "rollback-start":
        o.err(`rolling back to ${e.target} (${e.reason})`);
        break;
      case "log":
        o.out(e.message);
        break;
    }
  };
}

export function liveContext(stateDir: string, o: Output, extra: Partial<ReconcileContext> = {}): ReconcileContext {
  return {
    runner: new ExecaRunner(),
    stateDir,
    journal: new Journal(stateDir),
    onEvent: progressPrinter(o, { showPlan: true }),
    ...extra,
  };
}
