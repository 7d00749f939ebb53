import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { TackMetrics } from "../../agent/metrics.js";
import { dashboardPanels, dashboardQueries, loadDashboard, selectedMetrics } from "./dashboard-queries.js";

const dashboard = loadDashboard();
const panels = dashboardPanels(dashboard);

describe("monitoring/grafana-dashboard.json", () => {
  it("is importable: a DS_PROMETHEUS input, a datasource variable bound to it, a schema version and uid", () => {
    expect(dashboard.__inputs).toEqual([expect.objectContaining({ name: "DS_PROMETHEUS", type: "datasource", pluginId: "prometheus" })]);
    const ds = dashboard.templating.list.find((v) => v.type === "datasource");
    expect(ds).toMatchObject({ name: "datasource", query: "prometheus", current: { value: "${DS_PROMETHEUS}" } });
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(dashboard.title).toBe("tack");
  });

  it("queries only through the datasource variable (no hard-coded datasource uid)", () => {
    const uses: string[] = [];
    for (const p of panels) {
      uses.push(p.datasource?.uid ?? "missing");
      for (const t of p.targets ?? []) uses.push(t.datasource?.uid ?? "missing");
    }
    for (const v of dashboard.templating.list.filter((x) => x.type === "query")) uses.push((v.datasource as { uid?: string } | undefined)?.uid ?? "missing");
    for (const a of dashboard.annotations.list.filter((x) => x.expr)) uses.push(a.datasource?.uid ?? "missing");
    expect(new Set(uses)).toEqual(new Set(["${datasource}"]));
  });

  it("has the panels users look for", () => {
    const titles = panels.map((p) => p.title);
    for (const t of ["Owner per scope", "Health per scope", "Drift by kind", "Reconciles by result", "Reconcile duration", "Desired vs applied revision", "Cutovers and rollbacks"]) {
      expect(titles).toContain(t);
    }
    const exprs = (title: string) => (panels.find((p) => p.title === title)?.targets ?? []).map((t) => t.expr).join("\n");
    expect(exprs("Owner per scope")).toContain("tack_scope_owner");
    expect(exprs("Drift by kind")).toMatch(/sum by \(kind\) \(tack_drift_resources/);
    expect(exprs("Reconcile duration")).toContain("histogram_quantile(0.9,");
    expect(exprs("Desired vs applied revision")).toMatch(/tack_desired_revision_info[\s\S]*tack_applied_revision_info/);
    expect(exprs("Cutovers and rollbacks")).toMatch(/tack_cutover_total[\s\S]*tack_rollback_total/);
  });

  it("has unique panel ids and refIds, and panels that fit the 24-column grid without overlapping", () => {
    const all = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
    expect(new Set(all.map((p) => p.id)).size).toBe(all.length);
    for (const p of panels) {
      const refs = (p.targets ?? []).map((t) => t.refId);
      expect(new Set(refs).size, p.title).toBe(refs.length);
      expect(refs.length, `${p.title} has queries`).toBeGreaterThan(0);
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
    }
    const cells = new Map<string, string>();
    for (const p of all) {
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          const key = `${x},${y}`;
          expect(cells.get(key), `${p.title} overlaps ${cells.get(key)}`).toBeUndefined();
          cells.set(key, p.title);
        }
      }
    }
  });

  it("selects only metrics the agent exports (contract names, process metrics, up)", async () => {
    const exposition = await new TackMetrics().metrics();
    // From the TYPE lines: labelled metrics with no series yet (revisions, scopes) print no sample line.
    const exported = new Set(
      [...exposition.matchAll(/^# TYPE (\S+) (\w+)$/gm)].flatMap(([, name, type]) =>
        type === "histogram" || type === "summary" ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name!],
      ),
    );
    exported.add("up");
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThan(15);
    for (const q of queries) {
      const names = selectedMetrics(q.expr);
      expect(names.length, q.where).toBeGreaterThan(0);
      for (const n of names) expect(exported.has(n), `${q.where} selects ${n}`).toBe(true);
      // Every tack_ name is written as a selector, so the check above saw all of them.
      for (const m of q.expr.matchAll(/\btack_[a-z_]+/g)) expect(names, q.where).toContain(m[0]);
    }
  });

  it("has valid PromQL in every panel and annotation (parsed by promtool as recording rules)", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "tack-dashboard-"));
    try {
      const queries = dashboardQueries();
      // JSON is valid YAML: one recording rule per query, so promtool parses each expression.
      const rules = { groups: [{ name: "dashboard", rules: queries.map((q, i) => ({ record: `tack_dashboard:query_${i}`, expr: q.expr })) }] };
      const file = path.join(dir, "dashboard-rules.yaml");
      await writeFile(file, JSON.stringify(rules, null, 1));
      const r = await execa("promtool", ["check", "rules", file], { reject: false, all: true });
      expect(r.exitCode, r.all).toBe(0);
      expect(r.all).toContain(`SUCCESS: ${queries.length} rules found`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
