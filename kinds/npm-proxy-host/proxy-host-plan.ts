/**
 * The pure half of the NPM driver: which row belongs to which desired proxy host, who owns it, and
 * the field-by-field diff and plan. No I/O here (npm-driver.ts does all of it).
 *
 * Ownership (design.md "Safety"): tack changes only rows it created or adopted, tracked in an inventory
 * (id + domains). A row made in NPM's UI is adopted when the desired state names exactly its domain set
 * (the desired state is the user's explicit claim on those names, and a second row for the same names
 * would only make nginx warn about a conflicting server_name); a row that shares only some domains is
 * adopted only with `adopt: true`, otherwise it is a conflict, reported and left alone. Rows no desired
 * host names are never touched. Soft-deleted rows (is_deleted=1) are never read, so they count as absent.
 */
import { diffFields, type Change, type FieldChange, type Risk } from "../../core/changes.js";
import type { Finding } from "../../core/findings.js";
import type { DesiredProxyHost } from "../../core/resources.js";
import { checkAdvancedConfig, confMatches, renderProxyHostConf, type RenderContext } from "./render-conf.js";
import { domainKey, MANAGED_FIELDS, nameOf, sortDomains, type ProxyHostFields, type ProxyHostModel } from "./row.js";

export const KIND = "npm.proxyHost" as const;

export type Ownership = "created" | "adopted" | "unmanaged";

export interface InventoryEntry {
  id: number;
  domains: string[];
  origin: "created" | "adopted";
}

/** Where tack remembers the rows it owns. A file today; the journal can implement it later. */
export interface ProxyHostInventory {
  load(): Promise<InventoryEntry[]>;
  save(entries: InventoryEntry[]): Promise<void>;
}

export interface NpmProxyHostActual extends ProxyHostFields {
  id: number;
  ownership: Ownership;
  /** An unowned row sharing some domains with a desired host that does not say `adopt: true`. */
  conflict: boolean;
  /** The conf file on disk, undefined when absent. */
  conf: string | undefined;
  /** What the row renders to (undefined for a disabled row, whose conf NPM removes). */
  renderedConf: string | undefined;
  /** The conf on disk is what the row renders to (absent for a disabled row); false = hand edit or missing. */
  confMatches: boolean;
  /** Why the row could not be rendered, if it could not (e.g. an advanced_config that breaks out). */
  renderError?: string;
  nginxOnline?: boolean;
  nginxErr?: string | null;
  /** The whole row, for rendering and restoring. */
  model: ProxyHostModel;
}

export interface RowMatch {
  model: ProxyHostModel;
  ownership: Ownership;
  conflict: boolean;
}

/**
 * Pairs rows with ref names: each desired host gets its owned row (by inventory id), else a row with
 * exactly its domains, else (adopt: true) a row sharing a domain; every other owned row is keyed by its
 * first domain so the plan can delete it. Unowned rows nobody names are left out entirely.
 */
export function matchRows(
  desired: readonly DesiredProxyHost[],
  rows: readonly ProxyHostModel[],
  inventory: readonly InventoryEntry[],
): Map<string, RowMatch> {
  const byId = new Map(rows.map((r) => [r.id, r]));
  const owned = new Map<number, InventoryEntry>();
  for (const e of inventory) if (byId.has(e.id)) owned.set(e.id, e);
  const used = new Set<number>();
  const out = new Map<string, RowMatch>();
  for (const d of desired) {
    const key = domainKey(d.domains);
    const mine = [...owned.values()].find(
      (e) => !used.has(e.id) && (domainKey(e.domains) === key || nameOf(e.domains) === d.name),
    );
    if (mine) {
      used.add(mine.id);
      out.set(d.name, { model: byId.get(mine.id)!, ownership: mine.origin, conflict: false });
      continue;
    }
    const exact = rows.find((r) => !owned.has(r.id) && !used.has(r.id) && domainKey(r.domains) === key);
    if (exact) {
      used.add(exact.id);
      out.set(d.name, { model: exact, ownership: "unmanaged", conflict: false });
      continue;
    }
    const wanted = new Set(d.domains);
    const overlap = rows.find((r) => !owned.has(r.id) && !used.has(r.id) && r.domains.some((x) => wanted.has(x)));
    if (overlap) {
      used.add(overlap.id);
      out.set(d.name, { model: overlap, ownership: "unmanaged", conflict: !d.adopt });
    }
  }
  for (const e of owned.values()) {
    if (used.has(e.id)) continue;
    const model = byId.get(e.id)!;
    const name = nameOf(model.domains);
    if (!out.has(name)) out.set(name, { model, ownership: e.origin, conflict: false });
  }
  return out;
}

/** What observe reports for a matched row, given its conf on disk and how NPM's nginx renders. Pure. */
export function buildActual(match: RowMatch, conf: string | undefined, ctx: RenderContext): NpmProxyHostActual {
  const m = match.model;
  let renderedConf: string | undefined;
  let renderError: string | undefined;
  try {
    renderedConf = renderProxyHostConf(m, ctx);
  } catch (err) {
    renderError = err instanceof Error ? err.message : String(err);
  }
  const matches = renderError !== undefined ? false
    : renderedConf === undefined ? conf === undefined
    : conf !== undefined && confMatches(conf, renderedConf);
  const { id, domains, forwardScheme, forwardHost, forwardPort, enabled, websockets, http2, sslForced, hsts,
    hstsSubdomains, blockExploits, cachingEnabled, certificateId, accessListId, advancedConfig } = m;
  return {
    id, domains, forwardScheme, forwardHost, forwardPort, enabled, websockets, http2, sslForced, hsts,
    hstsSubdomains, blockExploits, cachingEnabled, certificateId, accessListId, advancedConfig,
    ownership: match.ownership,
    conflict: match.conflict,
    conf,
    renderedConf,
    confMatches: matches,
    ...(renderError !== undefined ? { renderError } : {}),
    nginxOnline: m.meta.nginx_online,
    nginxErr: m.meta.nginx_err,
    model: m,
  };
}

/** The desired host with domains sorted as NPM stores them. */
function normalized(d: DesiredProxyHost): DesiredProxyHost {
  return { ...d, domains: sortDomains(d.domains) };
}

/** Field-by-field diff of declared fields, plus conf drift, ownership and presence. Pure. */
export function diffProxyHost(desired: DesiredProxyHost | undefined, actual: NpmProxyHostActual | undefined): FieldChange[] {
  if (!desired) {
    if (!actual || actual.ownership === "unmanaged") return [];
    return [{ field: "present", from: true, to: false }];
  }
  if (actual?.conflict) return [];
  const want = normalized(desired);
  const fields = diffFields(want, actual, MANAGED_FIELDS);
  if (!actual) return fields;
  if (actual.ownership === "unmanaged") fields.unshift({ field: "ownership", from: "unmanaged", to: "adopted" });
  // A row field that changes rewrites the conf anyway, so conf drift is only news when the row is right.
  if (fields.length === 0 || (fields.length === 1 && fields[0]!.field === "ownership")) {
    if (!actual.confMatches) {
      const from = actual.conf === undefined ? "missing" : actual.renderedConf === undefined ? "present" : "edited by hand";
      fields.push({ field: "conf", from, to: want.enabled ? "rendered from the row" : "absent" });
    } else if (actual.nginxOnline === false && want.enabled) {
      // NPM shows the host offline (its last conf failed nginx -t): configure it again, as NPM's UI would.
      fields.push({ field: "nginxOnline", from: false, to: true });
    }
  }
  return fields;
}

const DISRUPTIVE_FIELDS = new Set(["domains", "forwardScheme", "forwardHost", "forwardPort", "enabled", "sslForced", "certificateId", "accessListId"]);

function riskOf(fields: FieldChange[]): Risk {
  return fields.some((f) => DISRUPTIVE_FIELDS.has(f.field)) ? "disruptive" : "safe";
}

function describe(d: DesiredProxyHost, fields: FieldChange[], actual: NpmProxyHostActual): string {
  if (fields.some((f) => f.field === "enabled") && !d.enabled) return `disable ${d.name} (scope ${d.scope} has no owner)`;
  const target = fields.some((f) => f.field === "forwardHost" || f.field === "forwardPort")
    ? `switch ${d.name} from ${actual.forwardHost}:${actual.forwardPort} to ${d.forwardHost}:${d.forwardPort}`
    : `update ${d.name}`;
  const adopt = actual.ownership === "unmanaged" ? ` (adopt row #${actual.id} made in NPM)` : "";
  const drift = fields.filter((f) => f.field !== "ownership").map((f) => f.field);
  return `${target}${adopt}${drift.length ? `: ${drift.join(", ")}` : ""}`;
}

/** Changes that converge NPM's rows and confs on the desired proxy hosts. Pure. */
export function planProxyHosts(
  desired: readonly DesiredProxyHost[],
  actual: ReadonlyMap<string, NpmProxyHostActual>,
): Change<DesiredProxyHost, NpmProxyHostActual>[] {
  const changes: Change<DesiredProxyHost, NpmProxyHostActual>[] = [];
  const names = new Set<string>();
  for (const raw of desired) {
    const d = normalized(raw);
    names.add(d.name);
    if (d.advancedConfig) checkAdvancedConfig(d.name, d.advancedConfig);
    const a = actual.get(d.name);
    // A disabled host serves nothing, and neither does an absent one: no row is created just to be disabled.
    // (Rolling back a first converge resolves every scope to owner none: it must leave no row behind.)
    if (!a && !d.enabled) continue;
    const fields = diffProxyHost(d, a);
    if (fields.length === 0) continue;
    const ref = { kind: KIND, name: d.name };
    if (!a) {
      changes.push({
        ref, action: "create", phase: "edge", fields, risk: "safe", desired: d, scope: d.scope,
        reason: `create ${d.name} → ${d.forwardScheme}://${d.forwardHost}:${d.forwardPort}`,
      });
    } else {
      changes.push({
        ref, action: "update", phase: "edge", fields, risk: riskOf(fields), desired: d, actual: a, scope: d.scope,
        reason: describe(d, fields, a),
      });
    }
  }
  for (const [name, a] of actual) {
    if (names.has(name)) continue;
    const fields = diffProxyHost(undefined, a);
    if (fields.length === 0) continue;
    changes.push({
      ref: { kind: KIND, name }, action: "delete", phase: "prune", fields, risk: "destructive", actual: a, prune: true,
      reason: `remove ${name} (row #${a.id}, no longer in the desired state): soft delete, conf removed`,
    });
  }
  return changes;
}

/** Rows that share domains with a desired host but are not tack's and not adoptable: reported, untouched. */
export function proxyHostConflicts(
  desired: readonly DesiredProxyHost[],
  actual: ReadonlyMap<string, NpmProxyHostActual>,
): Finding[] {
  const out: Finding[] = [];
  for (const d of desired) {
    const a = actual.get(d.name);
    if (!a?.conflict) continue;
    out.push({
      id: "npm-domain-conflict",
      severity: "error",
      ref: { kind: KIND, name: d.name },
      message:
        `NPM row #${a.id} (${a.domains.join(", ")}) shares domains with proxy host ${d.domains.join(", ")} ` +
        `but is not tack's; set adopt: true to take it over`,
    });
  }
  return out;
}
