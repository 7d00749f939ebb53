/**
 * The `proxy_host` row of NPM's SQLite database and tack's model of it. Pure mapping only: NPM stores
 * flags as 0/1 integers, `domain_names`, `meta` and `locations` as JSON text, and times as local
 * `YYYY-MM-DD HH:MM:SS` strings (facts.md, NPM section).
 */

/** A row as better-sqlite3 returns it (only the columns tack reads). */
export interface ProxyHostRow {
  id: number;
  created_on: string;
  modified_on: string;
  owner_user_id: number;
  is_deleted: number;
  domain_names: string;
  forward_scheme: string;
  forward_host: string;
  forward_port: number;
  access_list_id: number;
  certificate_id: number;
  ssl_forced: number;
  caching_enabled: number;
  block_exploits: number;
  advanced_config: string;
  meta: string;
  allow_websocket_upgrade: number;
  http2_support: number;
  enabled: number;
  locations: string | null;
  hsts_enabled: number;
  hsts_subdomains: number;
  /** Only from NPM 2.14 on. */
  trust_forwarded_proto?: number;
}

export interface ProxyHostLocation {
  path: string;
  forward_scheme: string;
  forward_host: string;
  forward_port: number | string;
  forward_path?: string;
  advanced_config?: string;
}

export interface ProxyHostMeta {
  nginx_online?: boolean;
  nginx_err?: string | null;
  [key: string]: unknown;
}

/** The managed fields, named as in DesiredProxyHost so the diff can compare them directly. */
export interface ProxyHostFields {
  domains: string[];
  forwardScheme: string;
  forwardHost: string;
  forwardPort: number;
  enabled: boolean;
  websockets: boolean;
  http2: boolean;
  sslForced: boolean;
  hsts: boolean;
  hstsSubdomains: boolean;
  blockExploits: boolean;
  cachingEnabled: boolean;
  certificateId: number;
  accessListId: number;
  advancedConfig: string;
}

/** Everything the conf rendering needs from a row, beyond the managed fields. */
export interface ProxyHostModel extends ProxyHostFields {
  id: number;
  trustForwardedProto: boolean;
  locations: ProxyHostLocation[];
  meta: ProxyHostMeta;
}

/** The fields tack manages, in the order plans show them. */
export const MANAGED_FIELDS = [
  "domains",
  "forwardScheme",
  "forwardHost",
  "forwardPort",
  "enabled",
  "websockets",
  "http2",
  "sslForced",
  "hsts",
  "hstsSubdomains",
  "blockExploits",
  "cachingEnabled",
  "certificateId",
  "accessListId",
  "advancedConfig",
] as const satisfies readonly (keyof ProxyHostFields)[];

/** Model field → column. */
export const COLUMN_OF: Record<keyof ProxyHostFields, keyof ProxyHostRow> = {
  domains: "domain_names",
  forwardScheme: "forward_scheme",
  forwardHost: "forward_host",
  forwardPort: "forward_port",
  enabled: "enabled",
  websockets: "allow_websocket_upgrade",
  http2: "http2_support",
  sslForced: "ssl_forced",
  hsts: "hsts_enabled",
  hstsSubdomains: "hsts_subdomains",
  blockExploits: "block_exploits",
  cachingEnabled: "caching_enabled",
  certificateId: "certificate_id",
  accessListId: "access_list_id",
  advancedConfig: "advanced_config",
};

/** NPM sorts domain_names with JavaScript's default sort before every insert and update. */
export function sortDomains(domains: readonly string[]): string[] {
  return [...domains].sort();
}

/** Identity of a domain set, independent of order. */
export function domainKey(domains: readonly string[]): string {
  return sortDomains(domains).join(",");
}

/** The ref name of a row: its first domain, sorted (as DesiredProxyHost.name). */
export function nameOf(domains: readonly string[]): string {
  return sortDomains(domains)[0] ?? "";
}

function parseJson<T>(text: string | null | undefined, fallback: T): T {
  if (text === null || text === undefined || text === "") return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

export function rowToModel(row: ProxyHostRow): ProxyHostModel {
  const locations = parseJson<ProxyHostLocation[] | null>(row.locations, null);
  return {
    id: row.id,
    domains: sortDomains(parseJson<string[]>(row.domain_names, [])),
    forwardScheme: row.forward_scheme,
    forwardHost: row.forward_host,
    forwardPort: Number(row.forward_port),
    enabled: row.enabled === 1,
    websockets: row.allow_websocket_upgrade === 1,
    http2: row.http2_support === 1,
    sslForced: row.ssl_forced === 1,
    hsts: row.hsts_enabled === 1,
    hstsSubdomains: row.hsts_subdomains === 1,
    blockExploits: row.block_exploits === 1,
    cachingEnabled: row.caching_enabled === 1,
    certificateId: Number(row.certificate_id ?? 0),
    accessListId: Number(row.access_list_id ?? 0),
    advancedConfig: row.advanced_config ?? "",
    trustForwardedProto: row.trust_forwarded_proto === 1,
    locations: Array.isArray(locations) ? locations : [],
    meta: parseJson<ProxyHostMeta>(row.meta, {}),
  };
}

/** Column values for the given model fields, as NPM would store them. */
export function columnValues(fields: Partial<ProxyHostFields>): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [field, value] of Object.entries(fields) as [keyof ProxyHostFields, unknown][]) {
    if (value === undefined) continue;
    const column = COLUMN_OF[field];
    if (field === "domains") out[column] = JSON.stringify(sortDomains(value as string[]));
    else if (typeof value === "boolean") out[column] = value ? 1 : 0;
    else out[column] = value as string | number;
  }
  return out;
}

/** `YYYY-MM-DD HH:MM:SS` in local time, as NPM's `now()` helper writes created_on/modified_on. */
export function npmDateTime(date: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return (
    `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())} ` +
    `${p(date.getHours())}:${p(date.getMinutes())}:${p(date.getSeconds())}`
  );
}
