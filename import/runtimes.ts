/**
 * The runtime half of `tack import`: the compose project's files and the units' files as they go into the
 * desired-state directory (secrets removed, see redact.ts), the evidence scope inference needs, and after the files
 * are in place, whether Compose computes the same config hash from them as the running containers carry (if not,
 * the first apply would recreate the service, and the reviewer is told).
 */
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { errorMessage } from "../core/errors.js";
import type { DesiredComposeService } from "../core/resources.js";
import type { Runner } from "../core/runner.js";
import { publishedPorts } from "../desired-state/resolve.js";
import { ComposeDriver } from "../kinds/compose-service/compose-driver.js";
import type { ServiceEvidence, UnitEvidence } from "./infer-scopes.js";
import { unitPorts } from "./infer-scopes.js";
import type { ComposeProjectSeen, UnitSeen } from "./read-host.js";
import { redactCompose, redactUnit } from "./redact.js";

export interface OutFile {
  /** Relative to the desired-state directory. */
  path: string;
  text: string;
}

export interface ComposeImport {
  files: OutFile[];
  evidence: ServiceEvidence[];
  /** Notes for runtimes.docker.compose. */
  notes: string[];
}

/** Services defined in the compose files (later files add to earlier ones, as compose merges them). */
function definedServices(texts: string[]): string[] {
  const out = new Set<string>();
  for (const t of texts) {
    try {
      const doc = parseYaml(t) as { services?: Record<string, unknown> } | null;
      for (const name of Object.keys(doc?.services ?? {})) out.add(name);
    } catch {
      // an unparsable file is left to tack validate, which names its line
    }
  }
  return [...out];
}

export function composeImport(seen: ComposeProjectSeen, npmNetwork: string | undefined): ComposeImport {
  const files: OutFile[] = [];
  const notes = [`compose files copied from ${seen.files.map((f) => f.path).join(", ")} (compose ran in ${seen.workingDir || "?"})`];
  const taken = new Set<string>();
  for (const f of seen.files) {
    let name = path.basename(f.path);
    for (let i = 2; taken.has(name); i++) name = `${i}-${path.basename(f.path)}`;
    taken.add(name);
    const r = redactCompose(f.text);
    if (r.removed.length) notes.push(`compose/${name}: the values of ${r.removed.join(", ")} were removed (secrets): the file now reads them from the agent's environment`);
    files.push({ path: `compose/${name}`, text: r.text });
  }
  const ports = publishedPorts(seen.files.map((f) => f.text));
  const byName = new Map(seen.services.map((s) => [s.service, s]));
  const names = [...new Set([...definedServices(seen.files.map((f) => f.text)), ...byName.keys()])].sort();
  const evidence = names.map((service) => {
    const s = byName.get(service);
    return {
      service,
      running: s?.running ?? false,
      onNpmNetwork: npmNetwork !== undefined && (s?.networks.includes(npmNetwork) ?? false),
      publishedPorts: ports.filter((p) => p.service === service && /^\d+$/.test(p.hostPort)).map((p) => Number(p.hostPort)),
    };
  });
  return { files, evidence, notes };
}

/**
 * After the files are written into `root`: services whose containers carry another config hash than Compose
 * computes from the imported files (relative paths now resolve inside the repo, a `.env` of the old working dir is
 * gone, a removed secret is not in this environment). Their first apply would recreate them: each gets a note.
 */
export async function checkComposeHashes(runner: Runner, seen: ComposeProjectSeen, files: OutFile[], root: string, running: string[]): Promise<Map<string, string>> {
  const notes = new Map<string, string>();
  if (running.length === 0) return notes;
  const desired: DesiredComposeService[] = running.map((service) => ({
    kind: "compose.service", name: `${seen.project}/${service}`, project: seen.project, service,
    files: files.map((f) => path.join(root, f.path)), workingDir: root, env: {}, state: "running", scope: "",
  }));
  try {
    const observed = await new ComposeDriver({ runner, outputCache: false }).observe(desired);
    for (const service of running) {
      const o = observed.get(`${seen.project}/${service}`);
      const hashes = seen.services.find((s) => s.service === service)?.configHashes ?? [];
      if (o?.expectedHash && hashes.some((h) => h !== o.expectedHash)) {
        notes.set(service, `Compose computes another config hash for ${service} from the imported files than its containers carry (relative paths, a .env file of ${seen.workingDir}, or a removed secret not set here?): the first apply would recreate it`);
      }
    }
  } catch (err) {
    for (const service of running) notes.set(service, `could not check that the imported compose files give ${service} the same config hash: ${errorMessage(err).split("\n")[0]}`);
  }
  return notes;
}

export interface UnitsImport {
  files: OutFile[];
  evidence: UnitEvidence[];
  notes: Map<string, string[]>;
}

export function unitsImport(units: UnitSeen[]): UnitsImport {
  const files: OutFile[] = [];
  const notes = new Map<string, string[]>();
  const evidence: UnitEvidence[] = [];
  for (const u of units) {
    const name = u.observed.name;
    const mine: string[] = [];
    const r = redactUnit(u.text);
    if (r.removed.length) mine.push(`units/${name}: the values of ${r.removed.join(", ")} were removed (secrets): the first apply installs this file and restarts ${name}; move them to an EnvironmentFile= first`);
    if (u.observed.fragmentPath !== u.observed.filePath) {
      mine.push(`${name} is loaded from ${u.observed.fragmentPath}: tack installs its units in ${path.dirname(u.observed.filePath)}, so the first apply adds a copy there (which overrides it) and restarts it`);
    }
    files.push({ path: `units/${name}`, text: r.text });
    notes.set(name, mine);
    evidence.push({ name, active: u.active, enabled: u.enabled, ports: unitPorts(u.text) });
  }
  return { files, evidence, notes };
}
