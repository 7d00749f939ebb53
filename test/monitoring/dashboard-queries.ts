import { readFileSync } from "node:fs";
import path from "node:path";

export const DASHBOARD_FILE = path.resolve(import.meta.dirname, "../../monitoring/grafana-dashboard.json");

export interface DashboardTarget {
  expr: string;
  refId: string;
  instant?: boolean;
  format?: string;
  legendFormat?: string;
  datasource?: { type: string; uid: string };
}

export interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { type: string; uid: string };
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: DashboardTarget[];
  panels?: DashboardPanel[];
}

export interface Dashboard {
  __inputs: { name: string; type: string; pluginId: string }[];
  uid: string;
  title: string;
  schemaVersion: number;
  panels: DashboardPanel[];
  templating: { list: { name: string; type: string; query: unknown; current?: { value?: unknown }; datasource?: unknown }[] };
  annotations: { list: { name: string; expr?: string; datasource?: { uid: string } }[] };
}

export function loadDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_FILE, "utf8")) as Dashboard;
}

/** Every panel that is not a row, rows' nested panels included. */
export function dashboardPanels(d: Dashboard): DashboardPanel[] {
  return d.panels.flatMap((p) => (p.type === "row" ? (p.panels ?? []) : [p]));
}

/**
 * Grafana's variables replaced the way Grafana would before sending a query: $job and $instance by regexes
 * ("All"), $__rate_interval by a window. The window must hold several scrapes: 1m for the unit check, a few
 * seconds for the sandbox's 1 s scrape interval.
 */
export function substituteVariables(expr: string, rateInterval = "1m"): string {
  return expr
    .replaceAll("$__rate_interval", rateInterval)
    .replaceAll("$__range", "5m")
    .replaceAll("$__interval", "15s")
    .replaceAll("$job", "tack")
    .replaceAll("$instance", ".+");
}

export interface DashboardQuery {
  where: string;
  expr: string;
}

/** Every PromQL expression of the dashboard (panels and annotations), variables substituted. */
export function dashboardQueries(d: Dashboard = loadDashboard(), rateInterval = "1m"): DashboardQuery[] {
  const panels = dashboardPanels(d).flatMap((p) =>
    (p.targets ?? []).map((t) => ({ where: `panel "${p.title}" ${t.refId}`, expr: substituteVariables(t.expr, rateInterval) })),
  );
  const annotations = d.annotations.list
    .filter((a) => a.expr !== undefined)
    .map((a) => ({ where: `annotation "${a.name}"`, expr: substituteVariables(a.expr ?? "", rateInterval) }));
  return [...panels, ...annotations];
}

/** Metric names an expression selects (identifiers followed by `{`, the only way the dashboard selects series). */
export function selectedMetrics(expr: string): string[] {
  return [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)].map((m) => m[1]!);
}
