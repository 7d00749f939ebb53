import { parse as parseYaml } from "yaml";
import type { Change } from "../../core/changes.js";
import { ApplyError, CommandError, TransientError, UserError } from "../../core/errors.js";
import type { ResourceRef } from "../../core/refs.js";
import type { DesiredComposeService } from "../../core/resources.js";
import type { Runner, RunResult } from "../../core/runner.js";
import { randomUUID } from "node:crypto";
import { stateCache, type StateCache } from "../../core/state-cache.js";
import { configKey, flavorKey, hashKey, persistentOutputCache, sharedOutputCache, type OutputCache } from "./config-cache.js";
import { composeCommand, detectCompose, type ComposeFlavor, type DetectedCompose } from "./compose-flavor.js";
import { DOCKER_UNREACHABLE } from "../../core/docker-errors.js";
import {
  SERVICE_KIND,
  parseHealth,
  type ObservedContainer,
  type ObservedService,
} from "./compose-plan.js";

/**
 * The Compose driver's I/O. Per project: one `docker ps` (state from labels), one `config` (services,
 * images) and one `config --hash` (what a current container's label must say; v1 and v2 both print
 * `<service> <hash>` lines for `--hash=a,b`). Apply batches `up -d --no-deps` and `rm -s -f` per project.
 * Services are always named for --hash: `--hash=*` printed nothing in compose v2.23.0 (docker/compose#11145).
 * v1's hash includes the image id, so a rebuilt image is drift too, exactly as `up` sees it.
 * v1/v2 differences: compose-flavor.ts.
 * Both outputs are cached process-wide (config-cache.ts): v1 starts up in ~1 s per call, so an unchanged
 * project is observed with `docker ps` and one `docker image inspect` only.
 */

export type { ComposeFlavor } from "./compose-flavor.js";

export interface ComposeDriverOptions {
  runner: Runner;
  /** Force `docker compose` (v2) or `docker-compose` (v1); detected once per instance otherwise. */
  flavor?: ComposeFlavor;
  /** Where `config` / `config --hash` outputs are kept (default: the process-wide cache); false: never cached. */
  outputCache?: OutputCache | false;
  /**
   * tack's state dir: the detected flavor and the outputs are also kept there (for a runner with an identity),
   * so the next process starts warm.
   */
  stateDir?: string;
}

interface ProjectKey {
  project: string;
  files: string[];
  workingDir: string;
  env: Record<string, string>;
}

interface ProjectConfig {
  services: Map<string, { image: string | undefined }>;
}

const MISSING_IMAGE = /No such image: ?([^\s"']+)/gi;

/** `version` output of each flavor detected in this process: part of the cache key. */
const detectedVersions: Partial<Record<ComposeFlavor, string>> = {};

/**
 * `docker ps` row: one Go template per label, not the joined `Labels` string, whose order varies between calls
 * and whose values may hold `,k=v` (v2 adds labels with commas). A missing label prints "".
 */
const PS_FORMAT = `{"ID":{{json .ID}},"Names":{{json .Names}},"State":{{json .State}},"Status":{{json .Status}},${[
  ["Service", "com.docker.compose.service"],
  ["ConfigHash", "com.docker.compose.config-hash"],
  ["OneOff", "com.docker.compose.oneoff"],
]
  .map(([k, label]) => `"${k}":{{json (.Label "${label}")}}`)
  .join(",")}}`;

export interface PsRow {
  ID: string;
  Names: string;
  State: string;
  Status: string;
  Service: string;
  ConfigHash: string;
  OneOff: string;
}
const runnerIds = new WeakMap<Runner, string>();
let nextRunnerId = 1;
// Unique to this process: a runner without an identity must never match a key another process stored.
const processNonce = randomUUID();
function runnerId(runner: Runner): string {
  if (runner.identity !== undefined) return runner.identity;
  let id = runnerIds.get(runner);
  if (id === undefined) runnerIds.set(runner, (id = `process ${processNonce} runner ${nextRunnerId++}`));
  return id;
}

export class ComposeDriver {
  readonly kind = SERVICE_KIND;
  private readonly runner: Runner;
  private detected: Promise<DetectedCompose> | undefined;
  private readonly cache: OutputCache | undefined;
  private readonly flavors: StateCache | undefined;

  constructor(options: ComposeDriverOptions) {
    this.runner = options.runner;
    const persist = options.stateDir !== undefined && options.runner.identity !== undefined;
    this.cache = options.outputCache === false ? undefined : (options.outputCache ?? (persist ? persistentOutputCache(options.stateDir!) : sharedOutputCache));
    if (persist && options.outputCache !== false) this.flavors = stateCache(options.stateDir!, "compose-flavor", 8);
    if (options.flavor) this.detected = Promise.resolve({ flavor: options.flavor, version: detectedVersions[options.flavor] ?? "" });
  }

  async flavor(): Promise<ComposeFlavor> {
    return (await this.detect()).flavor;
  }

  /**
   * `docker compose` when the plugin answers, else `docker-compose` (compose-flavor.ts), with its version; asked
   * once per driver, or remembered in the state dir while the executables that could answer are unchanged
   * (v1's `version` is a ~0.4 s Python start-up).
   */
  detect(): Promise<DetectedCompose> {
    this.detected ??= (async () => {
      const key = this.flavors ? await flavorKey(runnerId(this.runner)).catch(() => undefined) : undefined;
      const known = key ? this.flavors?.get(key) : undefined;
      let d: DetectedCompose;
      if (known) {
        const [flavor, version = ""] = known.split("\0") as [ComposeFlavor, string?];
        d = { flavor, version };
      } else {
        d = await detectCompose(this.runner);
        if (key) this.flavors?.set(key, `${d.flavor}\0${d.version}`);
      }
      detectedVersions[d.flavor] = d.version;
      return d;
    })();
    return this.detected;
  }

  private async compose(p: ProjectKey, args: string[], mutates: boolean): Promise<RunResult> {
    const common = ["-p", p.project, "--project-directory", p.workingDir, ...p.files.flatMap((f) => ["-f", f]), ...args];
    const [file, all] = composeCommand(await this.flavor(), common);
    return this.runner.run(file, all, { mutates, cwd: p.workingDir, env: p.env });
  }

  async observe(desired: DesiredComposeService[]): Promise<Map<string, ObservedService>> {
    const out = new Map<string, ObservedService>();
    for (const [p, services] of groupByProject(desired)) {
      // `docker ps` beside the config chain (config, then the image IDs its hashes are keyed on): two Docker CLI
      // round trips at once instead of one after the other on a no-op.
      const [containers, { config, hashes }] = await Promise.all([this.containers(p.project, services), this.configAndHashes(p, services)]);
      for (const s of services) {
        out.set(s.name, {
          name: s.name,
          project: s.project,
          service: s.service,
          defined: config.services.has(s.service),
          expectedHash: hashes.get(s.service),
          image: config.services.get(s.service)?.image,
          containers: containers.get(s.service) ?? [],
        });
      }
    }
    return out;
  }

  private async configAndHashes(p: ProjectKey, services: DesiredComposeService[]): Promise<{ config: ProjectConfig; hashes: Map<string, string> }> {
    const key = await this.inputsKey(p);
    const config = await this.config(p, services, key);
    // Only a service that should run is compared with its containers' hash: a retired one is removed whatever
    // its config (compose-plan.ts), and skipping `config --hash` saves a compose call when a cutover retires them.
    const hashed = services.filter((s) => s.state === "running" && config.services.has(s.service));
    for (const s of services) {
      if (!config.services.has(s.service) && s.state === "running") {
        throw new UserError(
          `compose.service ${s.name}: service "${s.service}" is not defined in ${p.files.join(", ")} (defined: ${[...config.services.keys()].join(", ") || "none"})`,
        );
      }
    }
    const hashes = hashed.length ? await this.hashes(p, hashed.map((s) => s.service), config, key) : new Map<string, string>();
    return { config, hashes };
  }

  /** Containers of the given services only (one `docker ps` per project, no compose call): for state probes. */
  async observeContainers(services: DesiredComposeService[]): Promise<Map<string, ObservedContainer[]>> {
    const out = new Map<string, ObservedContainer[]>();
    for (const [p, list] of groupByProject(services)) {
      const byService = await this.containers(p.project, list);
      for (const s of list) out.set(s.name, byService.get(s.service) ?? []);
    }
    return out;
  }

  /** One `docker ps -a` per project: containers by service, one-off (`run`) containers left out. */
  private async containers(project: string, services: DesiredComposeService[]): Promise<Map<string, ObservedContainer[]>> {
    let stdout: string;
    try {
      ({ stdout } = await this.runner.run("docker", ["ps", "-a", "--no-trunc", "--filter", `label=com.docker.compose.project=${project}`, "--format", PS_FORMAT], {}));
    } catch (err) {
      throw this.dockerError(err, services.map((s) => s.name));
    }
    return containersByService(stdout);
  }

  /** The cache key of the project's `config` output; undefined: run compose (no cache, or an input unreadable). */
  private async inputsKey(p: ProjectKey): Promise<string | undefined> {
    if (!this.cache) return undefined;
    const flavor = await this.flavor().catch(() => undefined);
    if (!flavor) return undefined; // compose() reports the missing flavor as before
    const version = detectedVersions[flavor];
    return configKey({ flavor, ...(version ? { version } : {}), project: p.project, workingDir: p.workingDir, files: p.files, env: p.env, runnerId: runnerId(this.runner) }).catch(
      () => undefined,
    );
  }

  private async config(p: ProjectKey, services: DesiredComposeService[], key: string | undefined): Promise<ProjectConfig> {
    let stdout = key ? this.cache?.get(`config ${key}`) : undefined;
    if (stdout === undefined) {
      try {
        ({ stdout } = await this.compose(p, ["config"], false));
      } catch (err) {
        throw this.dockerError(err, services.map((s) => s.name));
      }
      // Kept only if no input changed while compose ran: the entry then surely matches its key.
      if (key && (await this.inputsKey(p)) === key) this.cache?.set(`config ${key}`, stdout);
    }
    const doc = (parseYaml(stdout) ?? {}) as { services?: Record<string, { image?: string } | null> };
    const map = new Map<string, { image: string | undefined }>();
    for (const [name, svc] of Object.entries(doc.services ?? {})) map.set(name, { image: svc?.image });
    return { services: map };
  }

  /** `config --hash=<services>`, from the cache when the inputs and the services' image IDs are unchanged. */
  private async hashes(p: ProjectKey, names: string[], config: ProjectConfig, key: string | undefined): Promise<Map<string, string>> {
    const images = [...new Set(names.map((n) => config.services.get(n)?.image))];
    // v1's hash includes the image ID (a retagged or rebuilt image must read as drift): it is part of the key.
    const keyNow = async (): Promise<string | undefined> => {
      if (!key || images.some((i) => !i)) return undefined;
      const ids = await this.imageIds(images as string[]);
      return ids === undefined ? undefined : hashKey(key, names, ids);
    };
    const hk = await keyNow();
    const cached = hk ? this.cache?.get(`hash ${hk}`) : undefined;
    if (cached !== undefined) return parseHashes(cached);
    const { stdout } = await this.compose(p, [`config`, `--hash=${names.join(",")}`], false);
    if (hk && (await this.inputsKey(p)) === key && (await keyNow()) === hk) this.cache?.set(`hash ${hk}`, stdout);
    return parseHashes(stdout);
  }

  /** One Go `docker image inspect` for all images (tens of ms); undefined when any is missing or Docker fails. */
  private async imageIds(images: string[]): Promise<string | undefined> {
    try {
      const { stdout } = await this.runner.run("docker", ["image", "inspect", "--format", "{{.Id}}", ...images], {});
      const ids = stdout.trim().split("\n");
      return ids.length === images.length && ids.every((id) => /^sha256:[0-9a-f]{64}$/.test(id)) ? images.map((img, i) => `${img}=${ids[i]}`).join("\n") : undefined;
    } catch {
      return undefined;
    }
  }

  /** Docker down or its socket missing is worth retrying; anything else keeps its command error. */
  private dockerError(err: unknown, names: string[]): Error {
    if (err instanceof CommandError && DOCKER_UNREACHABLE.test(err.stderr + err.stdout)) {
      return new TransientError(
        `Docker is unreachable for ${names.map((n) => `compose.service ${n}`).join(", ")}: ${err.stderr.trim().split("\n").pop()}`,
        { cause: err },
      );
    }
    return err instanceof Error ? err : new Error(String(err));
  }

  async apply(changes: Change<DesiredComposeService, ObservedService>[]): Promise<void> {
    if (changes.length === 0) return;
    const phase = changes[0]!.phase;
    const applied: ResourceRef[] = [];
    const desired = changes.map((c) => c.desired).filter((d): d is DesiredComposeService => !!d);
    for (const [p, services] of groupByProject(desired)) {
      const ofProject = changes.filter((c) => c.desired && services.includes(c.desired));
      const fail = (message: string, refs: ResourceRef[], cause: unknown): never => {
        const err = this.dockerError(cause, refs.map((r) => r.name));
        throw new ApplyError(`${message}: ${err.message}`, { ref: refs[0], phase, cause: err, applied: [...applied] });
      };

      const removing = ofProject.filter((c) => c.action === "delete");
      const composeRm = removing.filter((c) => c.actual?.defined !== false).map((c) => c.desired!.service);
      const orphanIds = removing.filter((c) => c.actual?.defined === false).flatMap((c) => c.actual!.containers.map((k) => k.id));
      try {
        if (composeRm.length) await this.compose(p, ["rm", "-s", "-f", ...composeRm], true);
        // A service gone from the files is unknown to compose: remove its containers by id.
        if (orphanIds.length) await this.runner.run("docker", ["rm", "-f", ...orphanIds], { mutates: true });
      } catch (err) {
        fail(`could not remove ${removing.map((c) => c.desired!.service).join(", ")}`, removing.map((c) => c.ref), err);
      }
      applied.push(...removing.map((c) => c.ref));

      const starting = ofProject.filter((c) => c.action !== "delete");
      if (starting.length === 0) continue;
      await this.checkImages(starting, phase, applied);
      // A secret the service reads changed (field `restart`): its container is recreated even if compose sees no change.
      const forced = starting.filter((c) => c.fields.some((f) => f.field === "restart"));
      const plain = starting.filter((c) => !forced.includes(c));
      try {
        if (plain.length) await this.compose(p, ["up", "-d", "--no-deps", ...plain.map((c) => c.desired!.service)], true);
        if (forced.length) await this.compose(p, ["up", "-d", "--no-deps", "--force-recreate", ...forced.map((c) => c.desired!.service)], true);
      } catch (err) {
        fail(`up failed for ${starting.map((c) => c.desired!.service).join(", ")}`, starting.map((c) => c.ref), err);
      }
      applied.push(...starting.map((c) => c.ref));
    }
  }

  /** No registry is reachable on many hosts: name the service whose image is missing before `up` tries to pull. */
  private async checkImages(changes: Change<DesiredComposeService, ObservedService>[], phase: Change["phase"], applied: ResourceRef[]): Promise<void> {
    const withImage = changes.filter((c) => c.actual?.image);
    if (withImage.length === 0) return;
    const images = [...new Set(withImage.map((c) => c.actual!.image!))];
    try {
      await this.runner.run("docker", ["image", "inspect", "--format", "{{.Id}}", ...images], {});
    } catch (err) {
      const text = err instanceof CommandError ? err.stderr : String(err);
      const missing = new Set([...text.matchAll(MISSING_IMAGE)].map((m) => m[1]!));
      const bad = withImage.filter((c) => missing.has(c.actual!.image!) || missing.has(`${c.actual!.image!}:latest`));
      if (bad.length === 0) throw this.dockerError(err, changes.map((c) => c.ref.name));
      throw new ApplyError(
        `image missing for ${bad.map((c) => `service ${c.desired!.service} (${c.actual!.image})`).join(", ")}: build or load it on the host, no registry pull is attempted`,
        { ref: bad[0]!.ref, phase, cause: err, applied: [...applied] },
      );
    }
  }

  /** `stop` without removing (an operator's pause; a retire removes instead). */
  async stop(services: DesiredComposeService[]): Promise<void> {
    for (const [p, list] of groupByProject(services)) {
      await this.compose(p, ["stop", ...list.map((s) => s.service)], true);
    }
  }

  /** Last log lines of a service's containers, for evidence in errors. */
  async logs(actual: ObservedService, lines = 20): Promise<string[]> {
    const out: string[] = [];
    for (const c of actual.containers) {
      try {
        const r = await this.runner.run("docker", ["logs", "--tail", String(lines), c.id], {});
        out.push(...`${r.stdout}${r.stderr}`.split("\n").filter((l) => l.trim()).map((l) => `${c.name}: ${l}`));
      } catch (err) {
        out.push(`${c.name}: (no logs: ${(err as Error).message.split("\n")[0]})`);
      }
    }
    return out;
  }
}

function groupByProject(desired: DesiredComposeService[]): Map<ProjectKey, DesiredComposeService[]> {
  const byKey = new Map<string, { key: ProjectKey; list: DesiredComposeService[] }>();
  for (const d of desired) {
    const id = JSON.stringify([d.project, d.files, d.workingDir, d.env]);
    const entry = byKey.get(id) ?? { key: { project: d.project, files: d.files, workingDir: d.workingDir, env: d.env }, list: [] };
    entry.list.push(d);
    byKey.set(id, entry);
  }
  return new Map([...byKey.values()].map((e) => [e.key, e.list]));
}

/** `docker ps --format PS_FORMAT` lines → containers by service; one-off (`compose run`) containers left out. */
export function containersByService(stdout: string): Map<string, ObservedContainer[]> {
  const out = new Map<string, ObservedContainer[]>();
  for (const line of stdout.split("\n")) {
    if (!line.trim()) continue;
    const row = JSON.parse(line) as PsRow;
    if (row.OneOff.toLowerCase() === "true") continue;
    const list = out.get(row.Service) ?? [];
    list.push({ id: row.ID, name: row.Names, state: row.State, status: row.Status, health: parseHealth(row.Status), configHash: row.ConfigHash });
    out.set(row.Service, list);
  }
  return out;
}

/** `config --hash=a,b` prints `<service> <hash>` per line (v1 and v2). */
export function parseHashes(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of stdout.split("\n")) {
    const m = /^(\S+)\s+([0-9a-f]{16,})\s*$/.exec(line.trim());
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}
