/**
 * `tack import` reads the live host through the kinds' own drivers, so it sees exactly what `tack plan` will see:
 * NPM's rows with their confs and what they render to (NpmProxyHostDriver.observeAll), UFW's rule files and facts
 * (UfwDriver), the zone's records (CloudflareDriver), unit states and files (SystemdDriver), and a compose project's
 * containers by their labels. Read-only; each failure is turned into a message that names the part of the host.
 */
import { constants } from "node:fs";
import { access, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { dockerFailure } from "../core/docker-errors.js";
import { TackError, TransientError, UserError, errorMessage } from "../core/errors.js";
import type { SystemdScope } from "../core/resources.js";
import type { Runner } from "../core/runner.js";
import { CloudflareDriver } from "../kinds/cloudflare-record/cloudflare-driver.js";
import type { ObservedDnsRecord } from "../kinds/cloudflare-record/record-plan.js";
import { readNpmBridge, type NpmBridge } from "../kinds/npm-proxy-host/bridge.js";
import { NpmProxyHostDriver } from "../kinds/npm-proxy-host/npm-driver.js";
import type { NpmProxyHostActual } from "../kinds/npm-proxy-host/proxy-host-plan.js";
import { SystemdDriver } from "../kinds/systemd-unit/systemd-driver.js";
import { isActive, isEnabled, type ObservedUnit } from "../kinds/systemd-unit/unit-plan.js";
import type { UfwRule } from "../kinds/ufw-rule/parse-rules.js";
import type { UfwFacts } from "../kinds/ufw-rule/rule-plan.js";
import { UfwDriver } from "../kinds/ufw-rule/ufw-driver.js";

export interface NpmSource {
  /** Found from the container's mount at /data when not given. */
  dataDir?: string;
  container: string;
  network: string;
}

/** NPM's data dir on the host: the source of what its container mounts at /data. */
async function npmDataDir(runner: Runner, container: string): Promise<string> {
  const r = await runner.run("docker", ["inspect", "--format", "{{json .Mounts}}", container]).catch((err: unknown) => {
    throw explain(err, `NPM's container ${container}`);
  });
  const mounts = JSON.parse(r.stdout) as { Source?: string; Destination?: string }[] | null;
  const data = (mounts ?? []).find((m) => m.Destination === "/data");
  if (!data?.Source) throw new UserError(`NPM's container ${container} mounts nothing at /data: give its data dir with --npm-data-dir`);
  return data.Source;
}

/** Every live row of NPM and its bridge. An NPM write lock held past the retries is said as such. */
export async function readNpm(runner: Runner, source: NpmSource): Promise<{ dataDir: string; bridge: NpmBridge; rows: NpmProxyHostActual[] }> {
  const npm = { ...source, dataDir: source.dataDir ?? (await npmDataDir(runner, source.container)) };
  const stateDir = await mkdtemp(path.join(tmpdir(), "tack-import-"));
  try {
    // No inventory: the rows are read as tack's plan reads rows it does not own yet.
    const inventory = { load: () => Promise.resolve([]), save: () => Promise.resolve() };
    const driver = new NpmProxyHostDriver({ runner, dataDir: npm.dataDir, container: npm.container, stateDir, inventory, busyTimeoutMs: 250 });
    const bridge = await readNpmBridge(runner, npm.network).catch((err: unknown) => {
      throw explain(err, `NPM's network ${npm.network}`);
    });
    const rows = await driver.observeAll().catch((err: unknown) => {
      throw explain(err, `NPM (${npm.dataDir}, container ${npm.container})`);
    });
    return { dataDir: npm.dataDir, bridge, rows };
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
}

export async function readUfw(runner: Runner): Promise<{ rules: UfwRule[]; facts: UfwFacts }> {
  // UfwDriver reads a missing rules file as "no rules": here that would import an empty firewall without a word.
  const rulesFile = "/etc/ufw/user.rules";
  const code = await access(rulesFile, constants.R_OK).then(() => undefined, (err: NodeJS.ErrnoException) => err.code ?? "error");
  if (code === "ENOENT") throw new UserError(`UFW is not installed here (no ${rulesFile}): pass --no-ufw`);
  if (code) throw new UserError(`cannot read UFW's rules (${rulesFile}: ${code}): run tack import as root, or pass --no-ufw`);
  const observed = await new UfwDriver({ runner }).observe().catch((err: unknown) => {
    throw explain(err, "UFW's rules");
  });
  return { rules: [...observed.resources.values()], facts: observed.facts };
}

export async function readZone(host: string, zone: string, tokenEnv: string, env: NodeJS.ProcessEnv): Promise<ObservedDnsRecord[]> {
  const driver = new CloudflareDriver({ host, zone, token: { env: tokenEnv }, env, retryBudgetMs: 0 });
  const records = await driver.observe([], { force: true }).catch((err: unknown) => {
    throw explain(err, `Cloudflare zone ${zone}`);
  });
  return [...records.values()];
}

export interface ComposeServiceSeen {
  service: string;
  running: boolean;
  networks: string[];
  /** Labels of its containers: the config hash compose gave them. */
  configHashes: string[];
}

export interface ComposeProjectSeen {
  project: string;
  workingDir: string;
  /** The compose files as compose was given them (absolute paths), with their text. */
  files: { path: string; text: string }[];
  services: ComposeServiceSeen[];
}

interface Inspected {
  Config: { Labels: Record<string, string> | null };
  State: { Running: boolean };
  NetworkSettings: { Networks: Record<string, unknown> | null };
}

/** A compose project by its containers' labels: where its files are, its services, their networks and state. */
export async function readComposeProject(runner: Runner, project: string): Promise<ComposeProjectSeen> {
  const what = `compose project ${project}`;
  const docker = (args: string[]) => runner.run("docker", args).catch((err: unknown) => {
    throw explain(err, what);
  });
  const ids = (await docker(["ps", "-a", "-q", "--no-trunc", "--filter", `label=com.docker.compose.project=${project}`])).stdout.split("\n").filter(Boolean);
  if (ids.length === 0) throw new UserError(`${what}: no container of it on this host (docker ps -a shows none labelled com.docker.compose.project=${project})`);
  const inspected = JSON.parse((await docker(["inspect", ...ids])).stdout) as Inspected[];
  const services = new Map<string, ComposeServiceSeen>();
  let files: string[] = [];
  let workingDir = "";
  for (const c of inspected) {
    const labels = c.Config.Labels ?? {};
    if ((labels["com.docker.compose.oneoff"] ?? "").toLowerCase() === "true") continue;
    const name = labels["com.docker.compose.service"];
    if (!name) continue;
    files = files.length ? files : (labels["com.docker.compose.project.config_files"] ?? "").split(",").filter(Boolean);
    workingDir ||= labels["com.docker.compose.project.working_dir"] ?? "";
    const s = services.get(name) ?? { service: name, running: false, networks: [], configHashes: [] };
    s.running ||= c.State.Running;
    s.networks = [...new Set([...s.networks, ...Object.keys(c.NetworkSettings.Networks ?? {})])];
    s.configHashes.push(labels["com.docker.compose.config-hash"] ?? "");
    services.set(name, s);
  }
  if (files.length === 0) throw new UserError(`${what}: its containers do not say which compose files made them (label com.docker.compose.project.config_files)`);
  const texts: { path: string; text: string }[] = [];
  for (const f of files) {
    const p = path.isAbsolute(f) ? f : path.join(workingDir, f);
    try {
      texts.push({ path: p, text: await readFile(p, "utf8") });
    } catch (err) {
      throw new UserError(`${what}: cannot read its compose file ${p} (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)})`);
    }
  }
  return { project, workingDir, files: texts, services: [...services.values()].sort((a, b) => a.service.localeCompare(b.service)) };
}

export interface UnitSeen {
  observed: ObservedUnit;
  active: boolean;
  enabled: boolean;
  /** The unit file systemd loaded (FragmentPath), and its text. */
  text: string;
}

/** Units matching a pattern in one manager (system or the user's own), with their files as systemd loads them. */
export async function readUnits(runner: Runner, pattern: string, scope: SystemdScope): Promise<UnitSeen[]> {
  const scopeArgs = scope === "user" ? ["--user"] : [];
  const what = `${scope} units matching ${pattern}`;
  const list = await runner.run("systemctl", [...scopeArgs, "list-unit-files", "--no-legend", "--no-pager", "--", pattern]).catch((err: unknown) => {
    throw explain(err, what);
  });
  const names = [...new Set(list.stdout.split("\n").map((l) => l.trim().split(/\s+/)[0] ?? "").filter((n) => /\.(service|socket|timer)$/.test(n) && !n.includes("@.")))];
  if (names.length === 0) throw new UserError(`no ${what} (systemctl ${[...scopeArgs, "list-unit-files", pattern].join(" ")} lists none)`);
  const inventory = { list: () => Promise.resolve(new Set<string>()), add: () => Promise.resolve(), remove: () => Promise.resolve() };
  const observed = await new SystemdDriver({ runner, systemdScope: scope, inventory }).observeNames(names);
  const out: UnitSeen[] = [];
  for (const o of observed.values()) {
    if (!o.fragmentPath) continue;
    const text = await readFile(o.fragmentPath, "utf8").catch(() => undefined);
    if (text === undefined) continue;
    out.push({ observed: o, active: isActive(o), enabled: isEnabled(o), text });
  }
  return out;
}

/** A read failure in words that name the part of the host; Docker down and NPM's lock are said plainly. */
function explain(err: unknown, what: string): Error {
  const e = dockerFailure(err, what);
  if (e instanceof TransientError && /database stayed locked/.test(e.message)) {
    return new TackError(`cannot read ${what}: NPM's database is locked (NPM itself is writing it); try again in a moment`, { cause: err });
  }
  if (e instanceof TransientError && /Docker is unreachable/.test(e.message)) {
    return new TackError(`cannot read ${what}: Docker is unreachable (${process.env.DOCKER_HOST ?? "the default socket"}): ${e.message.replace(/^.*?: /, "")}`, { cause: err });
  }
  if (e instanceof Error) return new TackError(`cannot read ${what}: ${e.message}`, { cause: err });
  return new TackError(`cannot read ${what}: ${String(e)}`, { cause: err });
}
