import type { Finding } from "../core/findings.js";
import type { HostFacts, Owner, ResolvedHost } from "../core/resources.js";
import { loadRepo, selectHost, type LoadedHost, type LoadOptions } from "./load.js";
import { resolveHost } from "./resolve.js";
import { checkHost } from "./semantic.js";

export interface DesiredStateResult {
  /** Present only when there is no error finding. */
  resolved?: ResolvedHost;
  host?: LoadedHost;
  hosts: string[];
  findings: Finding[];
}

/**
 * Load, check and resolve the desired state of one host from a repo directory. Every problem is returned as a
 * finding with file:line:column; nothing on the host is touched.
 */
export async function loadDesiredState(
  repoRoot: string,
  options: LoadOptions & { host?: string; facts?: HostFacts; /** Rollback to pre-run owners: same revision, other owners. */ owners?: Record<string, Owner> } = {},
): Promise<DesiredStateResult> {
  const repo = await loadRepo(repoRoot, options.stateDir ? { stateDir: options.stateDir } : {});
  const hosts = repo.hosts.map((h) => h.doc.metadata.name);
  const findings = [...repo.findings];
  if (repo.hosts.length === 0) return { hosts, findings };
  const selected = selectHost(repo, options.host);
  if (!("doc" in selected)) return { hosts, findings: [...findings, selected] };
  const checked = await checkHost(selected, repoRoot);
  findings.push(...checked.findings);
  if (selected.schemaFailed || findings.some((f) => f.severity === "error")) return { host: selected, hosts, findings };
  let doc = selected.doc;
  if (options.owners) {
    const scopes = Object.fromEntries(Object.entries(doc.scopes).map(([n, sc]) => [n, { ...sc, owner: options.owners?.[n] ?? sc.owner }]));
    doc = { ...doc, scopes };
  }
  const resolved: ResolvedHost = {
    ...resolveHost({ doc, repoRoot, files: checked.files, ciphertexts: checked.ciphertexts, facts: options.facts ?? {} }),
    locate: (fieldPath) => selected.locate(splitFieldPath(fieldPath)),
  };
  return { resolved, host: selected, hosts, findings };
}

export { loadRepo, selectHost } from "./load.js";
export { resolveHost } from "./resolve.js";
export { checkHost } from "./semantic.js";

/** `firewall.ufw.rules[3].port` → ["firewall", "ufw", "rules", 3, "port"] (the inverse of formatPath). */
export function splitFieldPath(fieldPath: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of fieldPath.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}
