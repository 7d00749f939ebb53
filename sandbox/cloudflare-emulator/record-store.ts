import { randomBytes } from "node:crypto";

/**
 * The DNS records of one emulated zone, with the validation the real API v4 applies to what tack sends:
 * duplicates (81057, or 81058 on newer API revisions), CNAME clashes (81053/81054), a missing record
 * (81044), ttl 1 or 60–86400, proxied only for A/AAAA/CNAME, proxied records reported with ttl 1.
 */

export interface EmulatedRecord {
  id: string;
  zone_id: string;
  zone_name: string;
  name: string;
  type: string;
  content: string;
  ttl: number;
  proxied: boolean;
  proxiable: boolean;
  comment: string | null;
  tags: string[];
  meta: Record<string, unknown>;
  created_on: string;
  modified_on: string;
}

export interface RecordInput {
  id?: string;
  name?: string;
  type?: string;
  content?: string;
  ttl?: number;
  proxied?: boolean;
  comment?: string | null;
  tags?: string[];
}

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const PROXIABLE = new Set(["A", "AAAA", "CNAME"]);

export function newId(): string {
  return randomBytes(16).toString("hex");
}

/** Relative names and `@` become FQDNs in the zone, lower-cased, as the API reports them. */
export function fqdnIn(zone: string, name: string): string {
  const n = name.trim().toLowerCase().replace(/\.$/, "");
  if (n === "@" || n === "") return zone;
  if (n === zone || n.endsWith(`.${zone}`)) return n;
  return `${n}.${zone}`;
}

export class RecordStore {
  private records = new Map<string, EmulatedRecord>();
  constructor(
    readonly zoneId: string,
    readonly zoneName: string,
    private readonly duplicateCode: 81057 | 81058,
  ) {}

  all(): EmulatedRecord[] {
    return [...this.records.values()].map((r) => ({ ...r, tags: [...r.tags] }));
  }

  get(id: string): EmulatedRecord {
    const r = this.records.get(id);
    if (!r) throw new ApiFailure(404, 81044, "Record does not exist.");
    return r;
  }

  /** A copy for transactions (batch): apply to the copy, swap on success. */
  snapshot(): Map<string, EmulatedRecord> {
    return new Map([...this.records].map(([k, v]) => [k, { ...v, tags: [...v.tags] }]));
  }

  restore(snap: Map<string, EmulatedRecord>): void {
    this.records = snap;
  }

  clear(): void {
    this.records.clear();
  }

  create(input: RecordInput, now = new Date()): EmulatedRecord {
    const type = (input.type ?? "").toUpperCase();
    if (!type) throw new ApiFailure(400, 9000, "DNS Validation Error: type is required.");
    if (!input.name) throw new ApiFailure(400, 9000, "DNS Validation Error: name is required.");
    if (input.content === undefined || input.content === "")
      throw new ApiFailure(400, 9000, "DNS Validation Error: content is required.");
    const stamp = now.toISOString();
    const rec = this.normalise({
      id: input.id ?? newId(),
      zone_id: this.zoneId,
      zone_name: this.zoneName,
      name: fqdnIn(this.zoneName, input.name),
      type,
      content: input.content,
      ttl: input.ttl ?? 1,
      proxied: input.proxied ?? false,
      proxiable: PROXIABLE.has(type),
      comment: input.comment ?? null,
      tags: input.tags ?? [],
      meta: {},
      created_on: stamp,
      modified_on: stamp,
    });
    this.checkClashes(rec);
    this.records.set(rec.id, rec);
    return { ...rec };
  }

  /** PUT replaces every writable field; PATCH keeps what the body leaves out. */
  write(id: string, input: RecordInput, mode: "put" | "patch", now = new Date()): EmulatedRecord {
    const old = this.get(id);
    if (mode === "put" && (!input.type || !input.name || input.content === undefined))
      throw new ApiFailure(400, 9000, "DNS Validation Error: type, name and content are required.");
    const type = (input.type ?? old.type).toUpperCase();
    const rec = this.normalise({
      ...old,
      name: input.name !== undefined ? fqdnIn(this.zoneName, input.name) : old.name,
      type,
      content: input.content ?? old.content,
      ttl: input.ttl ?? (mode === "put" ? 1 : old.ttl),
      proxied: input.proxied ?? (mode === "put" ? false : old.proxied),
      proxiable: PROXIABLE.has(type),
      comment: input.comment !== undefined ? input.comment : mode === "put" ? null : old.comment,
      tags: input.tags ?? (mode === "put" ? [] : old.tags),
      modified_on: now.toISOString(),
    });
    this.checkClashes(rec);
    this.records.set(id, rec);
    return { ...rec };
  }

  delete(id: string): EmulatedRecord {
    const r = this.get(id);
    this.records.delete(id);
    return r;
  }

  private normalise(rec: EmulatedRecord): EmulatedRecord {
    if (rec.proxied && !rec.proxiable)
      throw new ApiFailure(400, 9004, `This record type cannot be proxied.`);
    if (!Number.isInteger(rec.ttl) || (rec.ttl !== 1 && (rec.ttl < 60 || rec.ttl > 86400)))
      throw new ApiFailure(400, 9021, "Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic.");
    if (typeof rec.comment === "string" && rec.comment.length > 100)
      throw new ApiFailure(400, 9016, "Comment is too long (max 100 characters).");
    // Proxied records always report an automatic ttl.
    return rec.proxied ? { ...rec, ttl: 1 } : rec;
  }

  private checkClashes(rec: EmulatedRecord): void {
    for (const other of this.records.values()) {
      if (other.id === rec.id || other.name !== rec.name) continue;
      if (other.type === rec.type && other.content === rec.content)
        throw new ApiFailure(
          400,
          this.duplicateCode,
          this.duplicateCode === 81057 ? "Record already exists." : "An identical record already exists.",
        );
      if (rec.type === "CNAME" && (other.type === "CNAME" || PROXIABLE.has(other.type)))
        throw new ApiFailure(400, 81053, "An A, AAAA, or CNAME record with that host already exists.");
      if (rec.type !== "CNAME" && other.type === "CNAME")
        throw new ApiFailure(400, 81054, "A CNAME record with that host already exists.");
    }
  }
}
