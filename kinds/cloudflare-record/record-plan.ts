import { markerHost } from "../../core/ownership.js";
import { diffFields, sameValue, type Change, type FieldChange, type Risk } from "../../core/changes.js";
import type { Finding } from "../../core/findings.js";
import type { DesiredDnsRecord } from "../../core/resources.js";

/**
 * Pure planning of Cloudflare DNS records (no I/O). Ownership: a record whose comment starts with
 * `tack:<host>` belongs to that host. Records of this host that the desired state no longer names are
 * deleted; records of other hosts are never touched; records without a marker are reported as unmanaged
 * and changed only when the desired state adopts them by name (design.md Decisions).
 */

export interface ObservedDnsRecord {
  id: string;
  type: string;
  /** FQDN, as the API reports it. */
  name: string;
  content: string;
  ttl: number;
  proxied: boolean;
  comment: string | null;
}

export type DnsChange = Change<DesiredDnsRecord, ObservedDnsRecord>;

export interface DnsPlan {
  changes: DnsChange[];
  findings: Finding[];
  /** Records without any tack marker: reported, never changed. */
  unmanaged: ObservedDnsRecord[];
}

const PROXIABLE = new Set(["A", "AAAA", "CNAME"]);

export function recordKey(type: string, fqdn: string): string {
  return `${type.toUpperCase()} ${fqdn.toLowerCase().replace(/\.$/, "")}`;
}

export { markerHost };

export function ownedBy(comment: string | null | undefined, host: string): boolean {
  return markerHost(comment) === host;
}

/** Names and hostnames in content compare without case or a trailing dot; addresses as written. */
function normalContent(type: string, content: string): string {
  return ["CNAME", "AAAA", "MX", "NS", "PTR"].includes(type.toUpperCase())
    ? content.toLowerCase().replace(/\.$/, "")
    : content;
}

/**
 * Index observed records by `TYPE fqdn` (the desired record's name). When several records share a key,
 * the one this host owns — or else the one whose content matches the desired record — takes the key;
 * the others get `TYPE fqdn #<id>` keys, so an owned extra is deleted and an unmanaged one reported.
 */
export function indexRecords(
  records: ObservedDnsRecord[],
  desired: DesiredDnsRecord[],
  host: string,
): Map<string, ObservedDnsRecord> {
  const want = new Map(desired.map((d) => [recordKey(d.type, d.fqdn), d]));
  const groups = new Map<string, ObservedDnsRecord[]>();
  for (const r of records) {
    const k = recordKey(r.type, r.name);
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const out = new Map<string, ObservedDnsRecord>();
  for (const [k, group] of groups) {
    const d = want.get(k);
    const score = (r: ObservedDnsRecord) =>
      (ownedBy(r.comment, host) ? 2 : 0) + (d && normalContent(r.type, r.content) === normalContent(d.type, d.content) ? 1 : 0);
    const sorted = [...group].sort((a, b) => score(b) - score(a) || a.id.localeCompare(b.id));
    sorted.forEach((r, i) => out.set(i === 0 ? k : `${k} #${r.id}`, r));
  }
  return out;
}

/** Fields that differ, of those the desired record declares. Proxied records always have ttl 1: ttl is compared only for DNS-only ones. */
export function diffRecord(desired: DesiredDnsRecord | undefined, actual: ObservedDnsRecord | undefined): FieldChange[] {
  if (!desired) return actual ? [{ field: "present", from: true, to: false }] : [];
  if (!actual) {
    return diffFields(desired, undefined, ["type", "fqdn", "content", "ttl", "proxied", "comment"]);
  }
  const out: FieldChange[] = [];
  if (normalContent(desired.type, desired.content) !== normalContent(actual.type, actual.content))
    out.push({ field: "content", from: actual.content, to: desired.content });
  if (desired.proxied !== undefined && desired.proxied !== actual.proxied)
    out.push({ field: "proxied", from: actual.proxied, to: desired.proxied });
  const proxiedAfter = desired.proxied ?? actual.proxied;
  if (desired.ttl !== undefined && !proxiedAfter && !sameValue(desired.ttl, actual.ttl))
    out.push({ field: "ttl", from: actual.ttl, to: desired.ttl });
  if (desired.comment !== (actual.comment ?? "")) out.push({ field: "comment", from: actual.comment, to: desired.comment });
  return out;
}

function riskOf(fields: FieldChange[]): Risk {
  return fields.some((f) => f.field === "content" || f.field === "proxied") ? "disruptive" : "safe";
}

function describe(fields: FieldChange[]): string {
  return fields.map((f) => `${f.field} ${JSON.stringify(f.from)} → ${JSON.stringify(f.to)}`).join(", ");
}

/** Records of this host the desired state no longer declares are deleted; records without a marker are reported. */
function planDeletes(actual: Map<string, ObservedDnsRecord>, declared: Set<string>, host: string) {
  const changes: DnsChange[] = [];
  const unmanaged: ObservedDnsRecord[] = [];
  const deletedIds = new Set<string>();
  for (const [key, a] of actual) {
    if (declared.has(key)) continue;
    if (ownedBy(a.comment, host)) {
      deletedIds.add(a.id);
      changes.push({
        ref: { kind: "cloudflare.record", name: key },
        action: "delete",
        phase: "dns",
        fields: diffRecord(undefined, a),
        risk: "destructive",
        reason: `tack:${host} owns ${a.type} ${a.name} and the desired state no longer declares it`,
        actual: a,
        prune: true,
      });
    } else if (markerHost(a.comment) === undefined) unmanaged.push(a);
  }
  return { changes, unmanaged, deletedIds };
}

/** What the API would refuse in a desired record on its own (codes 9004, 9021), or undefined. */
function invalidRecord(d: DesiredDnsRecord): string | undefined {
  if (d.proxied && !PROXIABLE.has(d.type.toUpperCase())) return `${d.name}: only A, AAAA and CNAME records can be proxied`;
  if (d.ttl !== undefined && d.ttl !== 1 && (d.ttl < 60 || d.ttl > 86400))
    return `${d.name}: ttl must be 1 (automatic) or 60–86400, got ${d.ttl}`;
  return undefined;
}

/** Why tack may not change this existing record: another host owns it, or it is unmanaged and not adopted. */
function ownershipConflict(d: DesiredDnsRecord, a: ObservedDnsRecord, host: string): string | undefined {
  const owner = markerHost(a.comment);
  if (owner !== undefined && owner !== host)
    return `${d.name} exists and belongs to host ${owner} (comment "tack:${owner}"); tack on ${host} never touches it`;
  if (owner === undefined && !d.adopt)
    return `${d.name} exists without a tack marker (content ${a.content}); set adopt: true to let tack manage it`;
  return undefined;
}

interface DesiredContext {
  actual: Map<string, ObservedDnsRecord>;
  host: string;
  /** Observed records by lower-cased FQDN, for the CNAME clash check. */
  byName: Map<string, ObservedDnsRecord[]>;
  /** Records this plan deletes: they no longer clash. */
  deletedIds: Set<string>;
}

/** One desired record: a finding that blocks it, a create or update, or nothing when it is in place. */
function planDesired(d: DesiredDnsRecord, ctx: DesiredContext): { change: DnsChange } | { finding: Finding } | undefined {
  const ref = { kind: "cloudflare.record" as const, name: d.name };
  const invalid = invalidRecord(d);
  if (invalid) return { finding: { id: "dns-invalid", severity: "error", ref, message: invalid } };
  const clash = cnameClash(d, ctx.byName, ctx.deletedIds);
  if (clash) {
    const message = `${d.name} clashes with existing ${clash.type} ${clash.name}: a CNAME cannot share its name with another record`;
    return { finding: { id: "dns-clash", severity: "error", ref, message } };
  }
  const a = ctx.actual.get(recordKey(d.type, d.fqdn));
  if (!a) {
    return {
      change: { ref, action: "create", phase: "dns", fields: diffRecord(d, undefined), risk: "safe", reason: `declared ${d.name} does not exist`, desired: d },
    };
  }
  const conflict = ownershipConflict(d, a, ctx.host);
  if (conflict) return { finding: { id: "dns-conflict", severity: "error", ref, message: conflict } };
  const fields = diffRecord(d, a);
  if (fields.length === 0) return undefined;
  const adopting = markerHost(a.comment) === undefined;
  return {
    change: {
      ref,
      action: "update",
      phase: "dns",
      fields,
      risk: riskOf(fields),
      reason: adopting ? `adopt unmanaged ${d.name}: ${describe(fields)}` : `${d.name} drifted: ${describe(fields)}`,
      desired: d,
      actual: a,
    },
  };
}

export function planRecords(desired: DesiredDnsRecord[], actual: Map<string, ObservedDnsRecord>, host: string): DnsPlan {
  const declared = new Set(desired.map((x) => recordKey(x.type, x.fqdn)));
  // Deletes first: a removed record may free a name a desired record needs (deletes run first in a batch).
  const { changes, unmanaged, deletedIds } = planDeletes(actual, declared, host);
  const byName = new Map<string, ObservedDnsRecord[]>();
  for (const a of actual.values()) {
    const n = a.name.toLowerCase();
    byName.set(n, [...(byName.get(n) ?? []), a]);
  }
  const findings: Finding[] = [];
  for (const d of desired) {
    const outcome = planDesired(d, { actual, host, byName, deletedIds });
    if (outcome && "change" in outcome) changes.push(outcome.change);
    else if (outcome) findings.push(outcome.finding);
  }
  return { changes, findings, unmanaged };
}

/** A CNAME may not share a name with any A/AAAA/CNAME, nor an A/AAAA with a CNAME (API codes 81053/81054). */
function cnameClash(
  d: DesiredDnsRecord,
  byName: Map<string, ObservedDnsRecord[]>,
  deletedIds: Set<string>,
): ObservedDnsRecord | undefined {
  const type = d.type.toUpperCase();
  for (const a of byName.get(d.fqdn.toLowerCase().replace(/\.$/, "")) ?? []) {
    if (deletedIds.has(a.id) || a.type === type) continue;
    if (type === "CNAME" && PROXIABLE.has(a.type)) return a;
    if (type !== "CNAME" && a.type === "CNAME") return a;
  }
  return undefined;
}

/** The batch body parts, in API order; each item keeps its ref so a failure can name it. */
export interface BatchOp {
  ref: DnsChange["ref"];
  kind: "deletes" | "patches" | "posts";
  body: Record<string, unknown>;
}

/** Turn changes into batch operations: only declared fields are sent, so the host keeps the rest. */
export function batchOps(changes: DnsChange[]): BatchOp[] {
  const ops: BatchOp[] = [];
  const declared = (d: DesiredDnsRecord) => ({
    type: d.type.toUpperCase(),
    name: d.fqdn,
    content: d.content,
    ...(d.ttl !== undefined && !d.proxied ? { ttl: d.ttl } : {}),
    ...(d.proxied !== undefined ? { proxied: d.proxied } : {}),
    comment: d.comment,
  });
  for (const c of changes) {
    if (c.action === "delete" && c.actual) ops.push({ ref: c.ref, kind: "deletes", body: { id: c.actual.id } });
    else if (c.action === "update" && c.desired && c.actual)
      ops.push({ ref: c.ref, kind: "patches", body: { id: c.actual.id, ...declared(c.desired) } });
    else if (c.action === "create" && c.desired)
      ops.push({ ref: c.ref, kind: "posts", body: { ttl: 1, ...declared(c.desired) } });
  }
  const order = { deletes: 0, patches: 1, posts: 2 } as const;
  return ops.sort((a, b) => order[a.kind] - order[b.kind]);
}

/** Split into batches of at most `size` operations, keeping the deletes-patches-posts order across chunks. */
export function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
