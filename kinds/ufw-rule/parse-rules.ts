import type { UfwAction } from "../../core/resources.js";

/**
 * Parses UFW's own rule files (`/etc/ufw/user.rules`, `user6.rules`): each rule is one line
 * `### tuple ### <action>[_<log>] <proto> <dport> <dst> <sport> <src> [<dapp> <sapp>] <dir>[_<iface>] [comment=<hex>]`
 * followed by its iptables lines (ufw 0.36 backend_iptables). The files are read whether UFW is active or not.
 * A rule whose addresses are both "any" appears in both files; parseRuleFiles merges it into one rule.
 */

export interface UfwRule {
  action: UfwAction;
  direction: "in" | "out";
  proto: string;
  /** undefined = all ports. */
  port?: string;
  from: string;
  to: string;
  /** Parts tack never writes; they make a rule distinct from tack's and are kept for reporting. */
  sport?: string;
  interface?: string;
  app?: string;
  route?: boolean;
  log?: string;
  comment: string;
  v4: boolean;
  v6: boolean;
}

const ANY_ADDR = new Set(["0.0.0.0/0", "::/0", "any"]);

function hexDecode(hex: string): string {
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) return hex;
  return Buffer.from(hex, "hex").toString("utf8");
}

/** One `### tuple ###` line, or undefined for any other line (or a malformed tuple, which ufw skips too). */
export function parseTupleLine(line: string, family: "v4" | "v6"): UfwRule | undefined {
  const m = /^### tuple ###\s+(.*)$/.exec(line.trim());
  if (!m) return undefined;
  let body = m[1]!;
  let comment = "";
  const at = body.indexOf(" comment=");
  if (at >= 0) {
    comment = hexDecode(body.slice(at + " comment=".length).trim());
    body = body.slice(0, at);
  }
  const t = body.trim().split(/\s+/);
  if (t.length < 6 || t.length > 9) return undefined;
  const [first = "", proto = "", dport = "", dst = "", sport = "", src = ""] = t;
  let action = first;
  let route = false;
  if (action.startsWith("route:")) {
    route = true;
    action = action.slice("route:".length);
  }
  const [base = "", log] = action.split("_", 2);
  if (!["allow", "deny", "reject", "limit"].includes(base)) return undefined;
  const dirField = t.length === 7 || t.length === 9 ? t[t.length - 1]! : "in";
  const direction = dirField.startsWith("out") ? "out" : "in";
  const iface = dirField.includes("_") ? dirField.slice(dirField.indexOf("_") + 1) : undefined;
  const apps = t.length >= 8 ? [t[6], t[7]].filter((a) => a && a !== "-").map((a) => a!.replace(/%20/g, " ")) : [];
  const any = (a: string) => (ANY_ADDR.has(a) ? "any" : a);
  return {
    action: base as UfwAction,
    direction,
    proto,
    ...(dport !== "any" ? { port: dport } : {}),
    from: any(src),
    to: any(dst),
    ...(sport !== "any" ? { sport } : {}),
    ...(iface ? { interface: iface } : {}),
    ...(apps.length ? { app: apps.join(",") } : {}),
    ...(route ? { route } : {}),
    ...(log ? { log } : {}),
    comment,
    v4: family === "v4",
    v6: family === "v6",
  };
}

/**
 * Identity of a rule as UFW sees it: everything but action, log type and comment (ufw's UFWRule.match
 * with -1), so re-adding a same-position rule replaces it. Format follows the desired rule names:
 * `in tcp 4000 from 172.18.0.0/16 to any`, plus any part tack never writes.
 */
export function positionKey(r: Pick<UfwRule, "direction" | "proto" | "port" | "from" | "to" | "sport" | "interface" | "app" | "route">): string {
  const extras = [
    r.sport ? `sport ${r.sport}` : "",
    r.interface ? `on ${r.interface}` : "",
    r.app ? `app ${r.app}` : "",
    r.route ? "route" : "",
  ].filter(Boolean);
  return [`${r.direction} ${r.proto} ${r.port ?? "any"} from ${r.from} to ${r.to}`, ...extras].join(" ");
}

export function parseRuleFiles(v4Text: string, v6Text: string): UfwRule[] {
  const out = new Map<string, UfwRule>();
  for (const [text, family] of [
    [v4Text, "v4"],
    [v6Text, "v6"],
  ] as const) {
    for (const line of text.split("\n")) {
      const r = parseTupleLine(line, family);
      if (!r) continue;
      const k = positionKey(r);
      const seen = out.get(k);
      if (seen) {
        seen.v4 ||= r.v4;
        seen.v6 ||= r.v6;
      } else out.set(k, r);
    }
  }
  return [...out.values()];
}

/** `/etc/default/ufw`: the default incoming policy and whether IPv6 rules are written. */
export function parseDefaults(text: string): { incoming: "deny" | "reject" | "allow" | undefined; ipv6: boolean } {
  const get = (k: string) => new RegExp(`^\\s*${k}\\s*=\\s*"?([^"\\s]*)"?`, "m").exec(text)?.[1];
  const p = get("DEFAULT_INPUT_POLICY")?.toUpperCase();
  const incoming = p === "DROP" ? "deny" : p === "REJECT" ? "reject" : p === "ACCEPT" ? "allow" : undefined;
  return { incoming, ipv6: (get("IPV6") ?? "yes").toLowerCase() === "yes" };
}

/** sshd's ports: `sshd -T` prints `port N` lines; sshd_config has `Port N` (22 when absent). */
export function parseSshdPorts(text: string): number[] {
  const ports = [...text.matchAll(/^\s*port\s+(\d+)\s*$/gim)].map((m) => Number(m[1]));
  return ports.length ? [...new Set(ports)] : [22];
}
