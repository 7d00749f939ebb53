/**
 * `tack import`: reads the live host (read-host.ts, through the kinds' drivers), infers scopes (infer-scopes.ts),
 * declares every resource as the host holds it with adoption (map-resources.ts), and writes a desired-state
 * directory: tack.yaml (write-desired.ts), units/, compose/ (secrets removed, redact.ts). The result is validated as
 * `tack validate` would. `dryRun` does the same into a temporary directory and returns the files without keeping them.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { UserError } from "../core/errors.js";
import type { Finding } from "../core/findings.js";
import type { SystemdScope } from "../core/resources.js";
import type { Runner } from "../core/runner.js";
import { loadDesiredState } from "../desired-state/index.js";
import { recordKey, type ObservedDnsRecord } from "../kinds/cloudflare-record/record-plan.js";
import type { NpmProxyHostActual } from "../kinds/npm-proxy-host/proxy-host-plan.js";
import { inferScopes, type InferredScope } from "./infer-scopes.js";
import { dnsRecordEntry, proxyHostEntry, proxyHostProblem, ufwRuleEntry, type Mapped } from "./map-resources.js";
import { readComposeProject, readNpm, readUfw, readUnits, readZone, type NpmSource } from "./read-host.js";
import { checkComposeHashes, composeImport, unitsImport, type OutFile } from "./runtimes.js";
import { renderDesired, type DesiredDraft, type Drafted, type Skipped } from "./write-desired.js";

export interface ImportOptions {
  out: string;
  host: string;
  force?: boolean;
  dryRun?: boolean;
  /** NPM, with the domains to import (empty: every proxy host). */
  npm?: NpmSource & { domains: string[] };
  ufw?: boolean;
  dns?: { zone: string; tokenEnv: string };
  composeProject?: string;
  units?: { pattern: string; scope: SystemdScope };
  runner: Runner;
  env?: NodeJS.ProcessEnv;
}

export interface ImportResult {
  dir: string;
  files: OutFile[];
  /** What was imported, one line per layer. */
  summary: string[];
  /** Comments a reviewer must read (things the first apply would change, things left out). */
  attention: string[];
  /** What `tack validate` says about the result (no error expected). */
  findings: Finding[];
}

/** `*` matches every name, `*.example.org` any name under example.org; anything else matches itself. */
function domainMatches(domain: string, patterns: string[]): boolean {
  return patterns.length === 0 || patterns.some((p) => p === "*" || (p.startsWith("*.") ? domain.endsWith(p.slice(1)) || domain === p : domain === p));
}

function split(mapped: Mapped[]): { drafted: Drafted[]; skipped: Skipped[] } {
  return {
    drafted: mapped.flatMap((m) => ("drafted" in m ? [m.drafted] : [])),
    skipped: mapped.flatMap((m) => ("skipped" in m ? [m.skipped] : [])),
  };
}

/** One declared record per type and name (the format's rule); a second one is skipped with the reason. */
function recordsOf(records: ObservedDnsRecord[], host: string): Mapped[] {
  const seen = new Set<string>();
  return records.map((r) => {
    const key = recordKey(r.type, r.name);
    if (seen.has(key)) return { skipped: { entry: { name: r.name, type: r.type, content: r.content }, reason: `a second ${r.type} record for ${r.name}: tack manages one record per type and name` } };
    const m = dnsRecordEntry(r, host);
    if ("drafted" in m) seen.add(key);
    return m;
  });
}

/**
 * Over 80 lines on purpose: it is the import from top to bottom (read each layer, infer, declare, write, check,
 * validate); every step is one call into the modules beside it, and split up the order would no longer be visible.
 */
export async function importHost(o: ImportOptions): Promise<ImportResult> {
  const env = o.env ?? process.env;
  if (!o.dryRun && existsSync(path.join(o.out, "tack.yaml")) && !o.force) {
    throw new UserError(`${path.join(o.out, "tack.yaml")} already exists: tack import does not overwrite a desired state (use --force to replace it)`);
  }
  const summary: string[] = [];
  const draft: DesiredDraft = { host: o.host, header: [], scopes: [], skippedRuntimes: [] };

  // Read every layer first: a failure leaves the output directory untouched.
  const npm = o.npm ? await readNpm(o.runner, o.npm) : undefined;
  const ufw = o.ufw ? await readUfw(o.runner) : undefined;
  const records = o.dns ? await readZone(o.host, o.dns.zone, o.dns.tokenEnv, env) : undefined;
  const project = o.composeProject ? await readComposeProject(o.runner, o.composeProject) : undefined;
  const units = o.units ? await readUnits(o.runner, o.units.pattern, o.units.scope) : undefined;

  const compose = project ? composeImport(project, o.npm?.network) : undefined;
  const unitFiles = units ? unitsImport(units) : undefined;
  const rows = (npm?.rows ?? []).filter((r) => r.domains.some((d) => domainMatches(d, o.npm?.domains ?? [])));
  const problems = new Map<number, string>();
  for (const r of rows) {
    const p = proxyHostProblem(r);
    if (p) problems.set(r.id, p);
  }
  const placeable = rows.filter((r) => !problems.has(r.id));
  const inference = inferScopes({
    proxyHosts: placeable.map((r) => ({ id: r.id, domains: r.domains, forwardHost: r.forwardHost, forwardPort: r.forwardPort })),
    ...(npm ? { gateway: npm.bridge.gateway } : {}),
    services: compose?.evidence ?? [],
    units: unitFiles?.evidence ?? [],
  });
  for (const s of inference.scopes) for (const u of s.native?.units ?? []) s.notes.push(...(unitFiles?.notes.get(u) ?? []));
  draft.scopes = inference.scopes;
  draft.skippedRuntimes = [
    ...inference.unplacedServices.map((u) => ({ entry: { service: u.service }, reason: `compose service ${u.service}: ${u.reason}` })),
    ...inference.unplacedUnits.map((u) => ({ entry: { unit: u.unit }, reason: `${u.unit}: ${u.reason}` })),
  ];
  if (units) draft.systemd = { scope: o.units!.scope };
  if (project && compose) draft.compose = { project: project.project, files: compose.files.map((f) => f.path), notes: compose.notes };

  if (o.npm && npm) {
    const byId = new Map<number, NpmProxyHostActual>(rows.map((r) => [r.id, r]));
    const skipped: Skipped[] = [
      ...rows.filter((r) => problems.has(r.id)).map((r) => ({ entry: rowEntry(r), reason: problems.get(r.id)! })),
      ...inference.unplacedProxyHosts.map((u) => ({ entry: rowEntry(byId.get(u.proxyHost.id)!), reason: `row #${u.proxyHost.id} ${u.reason}` })),
    ];
    const proxyHosts = inference.placements.map((p) => proxyHostEntry(byId.get(p.proxyHost.id)!, p.scope));
    draft.npm = { dataDir: npm.dataDir, container: o.npm.container, network: o.npm.network, proxyHosts, skipped };
    summary.push(`NPM: ${proxyHosts.length} proxy host(s) imported, ${skipped.length} not placed, ${(npm.rows.length - rows.length)} outside --domains left out`);
  }
  if (ufw) {
    const { drafted, skipped } = split(ufw.rules.map((r) => ufwRuleEntry(r, npm?.bridge.subnet)));
    const notes = ufw.facts.active ? [] : ["UFW is inactive on this host: its rules are imported as they are in its files"];
    draft.ufw = { rules: drafted, skipped, notes };
    summary.push(`UFW: ${drafted.length} rule(s) imported in UFW's order, ${skipped.length} not expressible`);
  }
  if (o.dns && records) {
    const { drafted, skipped } = split(recordsOf(records, o.host));
    draft.dns = { zone: o.dns.zone, tokenEnv: o.dns.tokenEnv, records: drafted, skipped };
    summary.push(`Cloudflare ${o.dns.zone}: ${drafted.length} record(s) imported, ${skipped.length} left out`);
  }
  summary.push(`runtimes: ${inference.scopes.length} scope(s) (${describeOwners(inference.scopes)}), ${draft.skippedRuntimes.length} not placed`);

  const dir = o.dryRun ? await mkdtemp(path.join(tmpdir(), "tack-import-dry-")) : o.out;
  try {
    const files = [...(compose?.files ?? []), ...(unitFiles?.files ?? [])];
    for (const f of files) await writeOut(dir, f);
    if (project && compose) {
      const running = inference.scopes.filter((s) => s.owner === "docker").flatMap((s) => s.docker?.services ?? []);
      const hashNotes = await checkComposeHashes(o.runner, project, compose.files, dir, running);
      for (const s of inference.scopes) for (const svc of s.docker?.services ?? []) if (hashNotes.has(svc)) s.notes.push(hashNotes.get(svc)!);
    }
    draft.header = header(o.host, summary);
    const tackYaml = { path: "tack.yaml", text: renderDesired(draft) };
    await writeOut(dir, tackYaml);
    const { findings } = await loadDesiredState(dir, { host: o.host });
    return { dir: o.out, files: [tackYaml, ...files], summary, attention: attention(draft), findings };
  } finally {
    if (o.dryRun) await rm(dir, { recursive: true, force: true });
  }
}

function rowEntry(r: NpmProxyHostActual): Record<string, unknown> {
  return { domains: r.domains, forwardHost: r.forwardHost, forwardPort: r.forwardPort };
}

function describeOwners(scopes: InferredScope[]): string {
  const count = (owner: string) => scopes.filter((s) => s.owner === owner).length;
  return `${count("native")} native, ${count("docker")} docker, ${count("none")} none`;
}

function header(host: string, summary: string[]): string[] {
  return [
    `Imported by \`tack import\` from host ${host}. Review it as a pull request before an agent applies it.`,
    "Every resource is marked for adoption (adopt: true; units and compose services are taken over as they run):",
    "the first apply takes ownership and changes nothing else, except where a comment below says otherwise.",
    ...summary.map((s) => `- ${s}`),
  ];
}

/** Every comment that says the first apply would change something, or that something was left out. */
function attention(d: DesiredDraft): string[] {
  return [
    ...d.scopes.flatMap((s) => s.notes.map((n) => `scope ${s.name}: ${n}`)),
    ...d.skippedRuntimes.map((s) => `not imported: ${s.reason}`),
    ...(d.npm?.proxyHosts ?? []).flatMap((p) => p.notes.slice(1).map((n) => `proxy host ${(p.entry.domains as string[]).join(", ")}: ${n}`)),
    ...(d.npm?.skipped ?? []).map((s) => `proxy host not imported: ${s.reason}`),
    ...(d.ufw?.skipped ?? []).map((s) => `UFW rule not imported: ${s.reason}`),
    ...(d.dns?.skipped ?? []).map((s) => `DNS record ${String(s.entry.type)} ${String(s.entry.name)} not imported: ${s.reason}`),
  ];
}

async function writeOut(dir: string, f: OutFile): Promise<void> {
  const p = path.join(dir, f.path);
  await mkdir(path.dirname(p), { recursive: true });
  await writeFile(p, f.text);
}
