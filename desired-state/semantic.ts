import { parse as parseYaml } from "yaml";
import type { Finding } from "../core/findings.js";
import type { LoadedHost } from "./load.js";
import type { PathSegment } from "./locate.js";
import { formatPath, MAX_ALIAS_COUNT } from "./locate.js";
import { readRepoFile } from "./repo-files.js";
import { checkSecrets } from "./check-secrets.js";
import type { HostDoc } from "./schema.js";

/**
 * Checks beyond the schema: what the document names must exist and agree with itself. Every finding is
 * collected (never just the first) and points at the field that caused it.
 */
export interface CheckedHost {
  findings: Finding[];
  /** Repo files that were read and found valid, by repo-relative path: unit files, compose files. */
  files: Map<string, string>;
  /** Age files of `secrets.files`, base64, by repo path (never decrypted offline). */
  ciphertexts: Map<string, string>;
}

const PROXIABLE = new Set(["A", "AAAA", "CNAME"]);

export function unitFilePath(doc: HostDoc, unit: string): string {
  return `${doc.runtimes.native?.systemd.unitsDir ?? "units"}/${unit}`.replace(/\/+/g, "/");
}

/** `{` and `}` must balance and never close the enclosing server block (NPM pastes advanced config verbatim). */
export function advancedConfigProblem(text: string): string | undefined {
  if (text.includes("\0")) return "contains a NUL byte";
  let depth = 0;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === "#") {
      const nl = text.indexOf("\n", i);
      i = nl < 0 ? text.length : nl;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "{") depth++;
    else if (c === "}") {
      depth--;
      if (depth < 0) return "closes a block it did not open: it would end NPM's server block";
    }
  }
  if (quote) return "has an unterminated quote";
  if (depth !== 0) return "has an unclosed '{'";
  return undefined;
}

function composeServices(text: string): Set<string> | string {
  try {
    const data = parseYaml(text, { maxAliasCount: MAX_ALIAS_COUNT }) as unknown;
    const services = (data as { services?: unknown } | null)?.services;
    if (!services || typeof services !== "object") return "has no services: mapping";
    return new Set(Object.keys(services));
  } catch (err) {
    return `is not valid YAML: ${(err as Error).message.split("\n")[0]}`;
  }
}

/** What every check below shares: the document, where findings go, the repo, and the files read so far. */
interface CheckContext {
  doc: LoadedHost["doc"];
  add: (path: PathSegment[], message: string, id?: string, severity?: Finding["severity"]) => void;
  repoRoot: string;
  files: Map<string, string>;
  scopeNames: Set<string>;
}

export async function checkHost(host: LoadedHost, repoRoot: string): Promise<CheckedHost> {
  const { doc } = host;
  const findings: Finding[] = [];
  const files = new Map<string, string>();
  const add = (path: PathSegment[], message: string, id = "semantic", severity: Finding["severity"] = "error") =>
    findings.push({ id, severity, message, path: formatPath(path), location: host.locate(path) });
  const c: CheckContext = { doc, add, repoRoot, files, scopeNames: new Set(Object.keys(doc.scopes)) };

  const composeSet = await checkComposeFiles(c);
  await checkScopes(c, composeSet);
  checkScopeOrder(c);
  checkProxyHosts(c);
  checkUfwRules(c);
  checkDnsRecords(c);
  const { ciphertexts } = await checkSecrets(doc, repoRoot, add, files);
  // A document that failed the schema was checked on a repaired copy: drop what the schema already said.
  const failed = host.schemaFailed ?? [];
  const kept = findings.filter((f) => !failed.some((p) => f.path !== undefined && (f.path === p || f.path.startsWith(p + ".") || f.path.startsWith(p + "["))));
  return { findings: kept, files, ciphertexts };
}

/** The compose files parse, and which services they define (undefined when one could not be read). */
async function checkComposeFiles({ doc, add, repoRoot, files }: CheckContext): Promise<Set<string> | undefined> {
  let composeSet: Set<string> | undefined;
  const compose = doc.runtimes.docker?.compose;
  if (compose) {
    composeSet = new Set();
    for (const [i, f] of compose.files.entries()) {
      try {
        const text = await readRepoFile(repoRoot, f);
        files.set(f, text);
        const services = composeServices(text);
        if (typeof services === "string") add(["runtimes", "docker", "compose", "files", i], `compose file "${f}" ${services}`);
        else for (const s of services) composeSet?.add(s);
      } catch (err) {
        add(["runtimes", "docker", "compose", "files", i], (err as Error).message);
        composeSet = undefined;
      }
    }
  }

  return composeSet;
}

/** Unit files exist in the repo; no two scopes claim one unit, service or native port; runtimes are declared. */
async function checkScopes({ doc, add, repoRoot, files, scopeNames }: CheckContext, composeSet: Set<string> | undefined): Promise<void> {
  const compose = doc.runtimes.docker?.compose;
  const unitClaims = new Map<string, string>();
  const serviceClaims = new Map<string, string>();
  const portClaims = new Map<number, string>();
  for (const [name, scope] of Object.entries(doc.scopes)) {
    const base: PathSegment[] = ["scopes", name];
    if (scope.owner === "native" && !scope.native) add([...base, "native"], 'owner is native, so the scope needs a "native:" runtime');
    if (scope.owner === "docker" && !scope.docker) add([...base, "docker"], 'owner is docker, so the scope needs a "docker:" runtime');
    if (scope.native && !doc.runtimes.native) add([...base, "native"], 'uses the native runtime, but runtimes.native is not declared');
    if (scope.docker && !doc.runtimes.docker) add([...base, "docker"], 'uses the docker runtime, but runtimes.docker is not declared');
    if (scope.handoff === "overlap" && scope.native?.port !== undefined && scope.native.port === scope.docker?.port) {
      const dockerHealth = scope.docker?.health?.http ?? scope.health?.http;
      if (!scope.docker?.health?.http || dockerHealth === (scope.native.health?.http ?? scope.health?.http)) {
        add([...base, "handoff"], "overlap runs both runtimes at once: give the docker runtime its own health URL (scopes.X.docker.health)");
      }
    }
    for (const [i, dep] of scope.after.entries()) {
      if (!scopeNames.has(dep)) add([...base, "after", i], `names no scope "${dep}"`);
      if (dep === name) add([...base, "after", i], "a scope cannot come after itself");
    }
    for (const [i, unit] of (scope.native?.units ?? []).entries()) {
      const p = [...base, "native", "units", i];
      const prev = unitClaims.get(unit);
      if (prev) add(p, `unit ${unit} is claimed by scope "${prev}" too`);
      else unitClaims.set(unit, name);
      const file = unitFilePath(doc, unit);
      try {
        const text = await readRepoFile(repoRoot, file);
        if (!/^\s*\[(Unit|Service)\]/m.test(text)) add(p, `unit file "${file}" has no [Unit] or [Service] section`);
        files.set(file, text);
      } catch (err) {
        add(p, `unit file missing or refused: ${(err as Error).message}`);
      }
    }
    for (const [i, svc] of (scope.docker?.services ?? []).entries()) {
      const p = [...base, "docker", "services", i];
      const prev = serviceClaims.get(svc);
      if (prev) add(p, `compose service ${svc} is claimed by scope "${prev}" too`);
      else serviceClaims.set(svc, name);
      if (composeSet && !composeSet.has(svc)) add(p, `compose service "${svc}" is not in ${compose?.files.join(", ")}`);
    }
    const port = scope.native?.port;
    if (port !== undefined) {
      const prev = portClaims.get(port);
      if (prev) add([...base, "native", "port"], `port ${port} is claimed by scope "${prev}" too`);
      else portClaims.set(port, name);
    }
  }
}

/** Dependency cycles in `after`. */
function checkScopeOrder({ doc, add, scopeNames }: CheckContext): void {
  const visiting = new Set<string>();
  const done = new Set<string>();
  const visit = (n: string, trail: string[]): void => {
    if (done.has(n)) return;
    if (visiting.has(n)) {
      add(["scopes", n, "after"], `scope order has a cycle: ${[...trail, n].join(" → ")}`);
      return;
    }
    visiting.add(n);
    for (const d of doc.scopes[n]?.after ?? []) if (scopeNames.has(d) && d !== n) visit(d, [...trail, n]);
    visiting.delete(n);
    done.add(n);
  };
  for (const n of scopeNames) visit(n, []);

}

/** Proxy hosts name an existing scope that has a port on the runtime it may be owned by. */
function checkProxyHosts({ doc, add, scopeNames }: CheckContext): void {
  const proxyHosts = doc.edge?.proxyHosts ?? [];
  if (proxyHosts.length && !doc.edge?.npm) add(["edge"], "proxyHosts need edge.npm (dataDir, container, network)");
  const domainClaims = new Map<string, number>();
  for (const [i, ph] of proxyHosts.entries()) {
    const p: PathSegment[] = ["edge", "proxyHosts", i];
    const scope = doc.scopes[ph.scope];
    if (!scope) add([...p, "scope"], `names no scope "${ph.scope}" (scopes: ${[...scopeNames].join(", ") || "none"})`);
    else {
      if (scope.native && scope.native.port === undefined) add([...p, "scope"], `scope "${ph.scope}" is reached through NPM, so scopes.${ph.scope}.native.port is needed`);
      if (scope.docker && scope.docker.port === undefined) add([...p, "scope"], `scope "${ph.scope}" is reached through NPM, so scopes.${ph.scope}.docker.port is needed`);
    }
    for (const [j, d] of ph.domains.entries()) {
      const prev = domainClaims.get(d);
      if (prev !== undefined) add([...p, "domains", j], `domain ${d} is already served by edge.proxyHosts[${prev}]`);
      else domainClaims.set(d, i);
    }
    if (ph.advancedConfig !== undefined) {
      const problem = advancedConfigProblem(ph.advancedConfig);
      if (problem) add([...p, "advancedConfig"], `advanced config ${problem}`);
    }
  }

}

/** UFW: comments go on ufw's command line and into its files; a rule is declared once. */
function checkUfwRules({ doc, add }: CheckContext): void {
  const ruleClaims = new Map<string, number>();
  for (const [i, r] of (doc.firewall?.ufw.rules ?? []).entries()) {
    // A rule is identified by its spec: a second declaration would silently merge into the first.
    const action = r.allow ? "allow" : r.deny ? "deny" : r.reject ? "reject" : "limit";
    const spec = `${action} ${r.direction} ${r[action] ?? "any"} ${r.port ?? "any"} from ${r.from} to ${r.to}`;
    const prev = ruleClaims.get(spec);
    if (prev !== undefined) add(["firewall", "ufw", "rules", i], `declares the same rule as firewall.ufw.rules[${prev}] (${spec}): remove one`);
    else ruleClaims.set(spec, i);
    if (r.comment !== undefined && /['\n\r\0]/.test(r.comment)) add(["firewall", "ufw", "rules", i, "comment"], "a ufw comment cannot contain quotes ('), newlines or NUL");
    if (r.port !== undefined && typeof r.port === "string" && r.port.includes(":")) {
      const [a, b] = r.port.split(":").map(Number);
      if (a === undefined || b === undefined || a >= b || b > 65535) add(["firewall", "ufw", "rules", i, "port"], `port range ${r.port} must be low:high within 1-65535`);
    }
    const proto = r.allow ?? r.deny ?? r.reject ?? r.limit;
    if (r.port !== undefined && typeof r.port === "string" && r.port.includes(":") && proto === "any") {
      add(["firewall", "ufw", "rules", i], "ufw needs a protocol (tcp or udp) for a port range");
    }
    if ((r.from === "npm-bridge" || r.to === "npm-bridge") && !doc.edge?.npm) add(["firewall", "ufw", "rules", i], "npm-bridge needs edge.npm.network to resolve");
  }

}

/** DNS: names inside the zone, proxied only where Cloudflare can proxy, no A/CNAME clash, one record per type and name. */
function checkDnsRecords({ doc, add }: CheckContext): void {
  const dns = doc.dns;
  if (dns) {
    const zone = dns.cloudflare.zone;
    const byName = new Map<string, { type: string; i: number; proxied: boolean | undefined; content: string }[]>();
    for (const [i, r] of dns.records.entries()) {
      const p: PathSegment[] = ["dns", "records", i];
      if (r.name !== zone && !r.name.endsWith(`.${zone}`)) add([...p, "name"], `${r.name} is outside the zone ${zone}`);
      if (r.proxied && !PROXIABLE.has(r.type)) add([...p, "proxied"], `only A, AAAA and CNAME records can be proxied (this is ${r.type})`);
      if (r.comment !== undefined && /[\n\r\0]/.test(r.comment)) add([...p, "comment"], "a record comment cannot contain newlines");
      const list = byName.get(r.name) ?? [];
      for (const other of list) {
        if ((r.type === "CNAME") !== (other.type === "CNAME") && [r.type, other.type].some((t) => t === "CNAME")) {
          add(p, `a CNAME cannot share the name ${r.name} with another record (dns.records[${other.i}] is ${other.type})`);
        } else if (r.type === other.type && r.type === "CNAME") {
          add(p, `${r.name} has two CNAME records`);
        } else if (r.type === other.type) {
          // tack identifies a record by type and name: two of them would fight over one Cloudflare record.
          const only = other.content === r.content && other.proxied !== r.proxied ? ", differing only in proxied" : "";
          add(p, `${r.type} ${r.name} is declared twice (also dns.records[${other.i}]${only}): tack manages one record per type and name`);
        }
      }
      list.push({ type: r.type, i, proxied: r.proxied, content: r.content });
      byName.set(r.name, list);
    }
  }
}
