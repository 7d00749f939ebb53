/**
 * What `tack import` declares for each observed edge, firewall and DNS resource: every field the plan manages,
 * set to what the host holds, so the first plan changes nothing but ownership (`adopt: true`). Pure. A resource the
 * format cannot express is returned as skipped, with the reason.
 */
import { markerHost, TACK_MARKER } from "../core/ownership.js";
import { isAddressOrCidr } from "../desired-state/schema.js";
import type { ObservedDnsRecord } from "../kinds/cloudflare-record/record-plan.js";
import type { NpmProxyHostActual } from "../kinds/npm-proxy-host/proxy-host-plan.js";
import { checkAdvancedConfig } from "../kinds/npm-proxy-host/render-conf.js";
import type { UfwRule } from "../kinds/ufw-rule/parse-rules.js";
import type { Drafted, Skipped } from "./write-desired.js";

export type Mapped = { drafted: Drafted } | { skipped: Skipped };

const FLAGS = ["websockets", "http2", "sslForced", "hsts", "hstsSubdomains", "blockExploits", "cachingEnabled"] as const;

/** Why a proxy host row cannot be declared as it is, before any scope is looked for; undefined when it can. */
export function proxyHostProblem(a: NpmProxyHostActual): string | undefined {
  if (!a.enabled) return `row #${a.id} is disabled in NPM: tack enables a proxy host whenever its scope has an owner`;
  if (a.forwardScheme !== "http" && a.forwardScheme !== "https") return `row #${a.id} forwards with scheme ${a.forwardScheme}`;
  try {
    if (a.advancedConfig) checkAdvancedConfig(a.domains[0] ?? "", a.advancedConfig);
  } catch (err) {
    return `row #${a.id}: ${(err as Error).message}`;
  }
  return undefined;
}

export function proxyHostEntry(a: NpmProxyHostActual, scope: string): Drafted {
  const notes: string[] = [`NPM row #${a.id}, forwarding to ${a.forwardScheme}://${a.forwardHost}:${a.forwardPort}`];
  if (!a.confMatches) {
    notes.push(
      a.conf === undefined
        ? `its conf file is missing: the first apply writes the conf NPM's template renders for this row`
        : `its conf on disk differs from what NPM's template renders for this row (edited by hand?): the first apply rewrites it`,
    );
  } else if (a.nginxOnline === false) {
    notes.push(`NPM shows it offline (its last conf failed nginx -t${a.nginxErr ? `: ${a.nginxErr.split("\n")[0]}` : ""}): the first apply configures it again, as NPM's UI would`);
  }
  if (a.model.locations.length) notes.push(`its ${a.model.locations.length} custom location(s) are kept as NPM has them (not managed by tack)`);
  const entry: Record<string, unknown> = { domains: a.domains, scope };
  if (a.forwardScheme === "https") entry.forwardScheme = "https";
  for (const f of FLAGS) entry[f] = a[f];
  entry.certificateId = a.certificateId;
  entry.accessListId = a.accessListId;
  if (a.advancedConfig) entry.advancedConfig = a.advancedConfig;
  if (a.ownership === "unmanaged") entry.adopt = true;
  return { entry, notes };
}

/** A UFW comment as the format accepts it: no quotes, backslashes, backticks, `$` or control characters. */
function cleanComment(comment: string): string {
  const own = comment.startsWith(TACK_MARKER) ? comment.slice(TACK_MARKER.length).trim() : comment;
  return [...own].filter((ch) => !/['"\\`$]/.test(ch) && ch.charCodeAt(0) >= 0x20 && ch.charCodeAt(0) !== 0x7f).join("").slice(0, 200).trim();
}

function ruleAddress(addr: string, bridgeSubnet: string | undefined): string | undefined {
  if (addr === "any" || addr === "0.0.0.0/0" || addr === "::/0") return "any";
  if (bridgeSubnet !== undefined && addr === bridgeSubnet) return "npm-bridge";
  return isAddressOrCidr(addr) ? addr : undefined;
}

export function ufwRuleEntry(r: UfwRule, bridgeSubnet: string | undefined): Mapped {
  const spec: Record<string, unknown> = { [r.action]: r.proto, ...(r.port !== undefined ? { port: r.port } : {}), from: r.from, to: r.to, ...(r.direction !== "in" ? { direction: r.direction } : {}) };
  // A rule tack owns that the desired state leaves out is pruned: say so, since the import cannot declare it.
  const owned = r.comment.startsWith(TACK_MARKER) ? "; it carries tack's marker, so the first apply would delete it (change its comment by hand first)" : "";
  const skip = (reason: string): Mapped => ({ skipped: { entry: { ...spec, ...(r.comment ? { comment: r.comment } : {}) }, reason: reason + owned } });
  if (r.sport !== undefined || r.interface !== undefined || r.app !== undefined || r.route || r.log !== undefined) {
    const parts = [r.sport !== undefined && "a source port", r.interface !== undefined && "an interface", r.app !== undefined && "an application profile", r.route && "routing", r.log !== undefined && "logging"].filter(Boolean);
    return skip(`uses ${parts.join(", ")}, which tack's rule format does not express`);
  }
  if (!["tcp", "udp", "any"].includes(r.proto)) return skip(`protocol ${r.proto} is not one of tcp, udp, any`);
  if (r.port !== undefined && !/^\d{1,5}(:\d{1,5})?$/.test(r.port)) return skip(`port list ${r.port}: tack declares one port or one range per rule`);
  const from = ruleAddress(r.from, bridgeSubnet);
  const to = ruleAddress(r.to, bridgeSubnet);
  if (from === undefined || to === undefined) return skip(`address ${from === undefined ? r.from : r.to} is not an IPv4/IPv6 address or CIDR`);
  const entry: Record<string, unknown> = { [r.action]: r.proto };
  if (r.port !== undefined) entry.port = /^\d+$/.test(r.port) ? Number(r.port) : r.port;
  if (from !== "any") entry.from = from;
  if (to !== "any") entry.to = to;
  if (r.direction !== "in") entry.direction = r.direction;
  const comment = cleanComment(r.comment);
  if (comment) entry.comment = comment;
  const notes: string[] = [];
  if (comment !== (r.comment.startsWith(TACK_MARKER) ? r.comment.slice(TACK_MARKER.length).trim() : r.comment)) notes.push(`comment was "${r.comment}" (characters UFW's command line cannot carry removed)`);
  if (!r.comment.startsWith(TACK_MARKER)) entry.adopt = true;
  return { drafted: { entry, notes } };
}

const RECORD_TYPES = new Set(["A", "AAAA", "CNAME", "TXT", "MX", "CAA", "SRV", "NS"]);
const HOSTNAME = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const PROXIABLE = new Set(["A", "AAAA", "CNAME"]);

/** A record of the zone as declared for `host`; another host's record (its `tack:<host>` marker) is skipped. */
export function dnsRecordEntry(r: ObservedDnsRecord, host: string): Mapped {
  const entry: Record<string, unknown> = { name: r.name, type: r.type, content: r.content };
  const owner = markerHost(r.comment);
  const mine = owner === host ? `; it carries this host's marker (tack:${host}), so the first apply would delete it (change its comment by hand first)` : "";
  const skip = (reason: string): Mapped => ({ skipped: { entry, reason: reason + mine } });
  if (owner !== undefined && owner !== host) return skip(`owned by host ${owner} (its comment starts with tack:${owner})`);
  if (!RECORD_TYPES.has(r.type)) return skip(`type ${r.type} is not one tack manages`);
  if (!HOSTNAME.test(r.name)) return skip(`name ${r.name} is not a lowercase DNS name as the format writes them (e.g. an underscore)`);
  if (PROXIABLE.has(r.type)) entry.proxied = r.proxied;
  // Cloudflare keeps proxied records at ttl 1 and tack compares ttl only for DNS-only ones.
  if (!r.proxied) entry.ttl = r.ttl;
  const notes: string[] = [];
  const userComment = (owner === host ? (r.comment ?? "").slice(TACK_MARKER.length + host.length) : (r.comment ?? "")).trim();
  if (userComment) {
    if (userComment.length <= 90) entry.comment = userComment;
    else notes.push(`its comment (${userComment.length} characters) is longer than the format's 90: not declared, replaced by the ownership marker on apply`);
  }
  if (owner === undefined) entry.adopt = true;
  return { drafted: { entry, notes } };
}
