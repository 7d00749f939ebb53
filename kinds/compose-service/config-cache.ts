import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { parseDocument } from "yaml";
import { LruCache } from "../../core/lru-cache.js";
import { stateCache, type StateCache } from "../../core/state-cache.js";
import type { ComposeFlavor } from "./compose-flavor.js";

/**
 * A process-wide, bounded cache of what `compose config` and `compose config --hash=...` print.
 *
 * Why: docker-compose v1 is Python and spends ~1 s starting up per call, so a no-op observe of one project
 * cost ~2 s (`config`, then `config --hash`) and dominated every drift check (bench/results/noop.json).
 * Those outputs depend only on inputs this module can read without starting a process, so an unchanged
 * project is answered from here. The key covers every input that can change them:
 * - the compose flavor, its version when known, and the compose executable's file identity (an upgrade);
 * - project name, working dir, the compose files' paths and contents, the project dir's `.env` (absent is a value);
 * - every file compose folds into the config: `env_file:` (string, list, `{path}` forms) and `extends.file`,
 *   recursively; docker-compose 1.29.2 resolves a main file's env_file against the project dir (tried), an
 *   extended file's references may resolve against that file's dir, so both candidates are read (an absent
 *   candidate is a value, but at least one must be readable);
 * - the env given to compose and the process env it inherits (interpolation reads both; execa extends process.env);
 * - the runner the commands go through (it may add env or a namespace prefix this module cannot see).
 * The `--hash` part is further keyed on the image IDs: v1's config hash includes the service image's ID
 * (a rebuilt or retagged image is drift for `up`, so it must be for observe too).
 * Anything this module cannot read or understand means "no key": the caller runs compose as before.
 * With a state dir, entries are also kept in `<state-dir>/cache/compose.json` (core/state-cache.ts), so a fresh
 * `tack plan` process starts warm; the keys are the same, so are the invalidations.
 */

export interface ComposeInputs {
  flavor: ComposeFlavor;
  /** `version` output of the flavor when this process detected it. */
  version?: string;
  project: string;
  workingDir: string;
  files: string[];
  env: Record<string, string>;
  /** Identifies the runner: output seen through one runner is not reused through another. */
  runnerId: string;
}

const MAX_DEPTH = 16;
const MAX_FILE_BYTES = 4 * 1024 * 1024;
/** Where the Docker CLI looks for the compose v2 plugin (besides $DOCKER_CONFIG and ~/.docker). */
const PLUGIN_DIRS = ["/usr/local/lib/docker/cli-plugins", "/usr/local/libexec/docker/cli-plugins", "/usr/lib/docker/cli-plugins", "/usr/libexec/docker/cli-plugins"];

class NoKey extends Error {}

/** The key of a project's `config` output, or undefined when some input cannot be read or understood. */
export async function configKey(inputs: ComposeInputs, processEnv: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  if (inputs.files.length === 0) return undefined; // compose would search for its default files itself
  const env = { ...processEnv, ...inputs.env };
  // A list of extra env files compose v2 reads by itself: not followed here.
  if (env.COMPOSE_ENV_FILES) return undefined;
  const workingDir = path.resolve(inputs.workingDir);
  const parts: string[] = [];
  const add = (label: string, value: string) => parts.push(`${label}\0${value}`);
  try {
    add("flavor", `${inputs.flavor} ${inputs.version ?? "?"}`);
    add("executable", await executableIdentity(inputs.flavor, env));
    add("runner", String(inputs.runnerId));
    add("project", inputs.project);
    add("workingDir", workingDir);
    add("env", JSON.stringify(Object.entries(env).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
    add(".env", await readOrAbsent(path.join(workingDir, ".env")));
    const visited = new Set<string>();
    for (const f of inputs.files) {
      const file = path.resolve(workingDir, f);
      const text = await readFile(file, "utf8").catch(() => {
        throw new NoKey(file);
      });
      add(`file ${file}`, text);
      await addReferences(file, text, workingDir, add, visited, 0);
    }
  } catch (err) {
    if (err instanceof NoKey) return undefined;
    throw err;
  }
  return digest(parts);
}

/** The key of a `config --hash` output: the config key, the services asked for, and their images' IDs. */
export function hashKey(configKey: string, services: string[], imageIds: string): string {
  return digest([configKey, services.join(","), imageIds]);
}

/**
 * Outputs of `config` / `config --hash` by key; least recently used entries go first once `max` is reached.
 * With a backing StateCache, a miss in memory is looked up there and every entry is written through to it.
 */
export class OutputCache extends LruCache<string> {
  constructor(
    max = 64,
    private readonly backing?: StateCache,
  ) {
    super(max);
  }

  override get(key: string): string | undefined {
    const v = super.get(key);
    if (v !== undefined || !this.backing) return v;
    const stored = this.backing.get(key);
    if (stored !== undefined) super.set(key, stored);
    return stored;
  }

  override set(key: string, value: string): void {
    super.set(key, value);
    this.backing?.set(key, value);
  }
}

/** The one cache of the process: a driver made per reconcile (kinds/index.ts) still finds it warm. */
export const sharedOutputCache = new OutputCache(64);

const persistent = new Map<string, OutputCache>();

/** The process's cache backed by `<stateDir>/cache/compose.json`: one per state dir. */
export function persistentOutputCache(stateDir: string): OutputCache {
  let c = persistent.get(stateDir);
  if (!c) persistent.set(stateDir, (c = new OutputCache(64, stateCache(stateDir, "compose", 64))));
  return c;
}

/**
 * The key of a flavor detection (`docker compose version`, else `docker-compose version`): the runner and the
 * file identity of every executable that could answer, so installing or upgrading either changes it.
 */
export async function flavorKey(runnerId: string, processEnv: NodeJS.ProcessEnv = process.env): Promise<string> {
  const ids = await Promise.all([executableIdentity("v2", processEnv), executableIdentity("v1", processEnv), executableIdentity("docker", processEnv)]);
  return digest(["flavor", runnerId, ...ids]);
}

function digest(parts: string[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(`${p.length}:`).update(p);
  return h.digest("hex");
}

async function readOrAbsent(file: string): Promise<string> {
  try {
    const st = await stat(file);
    if (st.size > MAX_FILE_BYTES) throw new NoKey(file);
    return `present\0${await readFile(file, "utf8")}`;
  } catch (err) {
    if (err instanceof NoKey) throw err;
    if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ENOTDIR") return "absent";
    throw new NoKey(file);
  }
}

/** env_file and extends.file of every service of one compose file, followed into extended files. */
async function addReferences(
  file: string,
  text: string,
  workingDir: string,
  add: (label: string, value: string) => void,
  visited: Set<string>,
  depth: number,
): Promise<void> {
  if (visited.has(file)) return;
  visited.add(file);
  if (depth > MAX_DEPTH) throw new NoKey(file);
  const doc = parseDocument(text, { merge: true });
  if (doc.errors.length) throw new NoKey(file);
  const root: unknown = doc.toJS({ maxAliasCount: 1000 });
  if (root === null || root === undefined) return;
  if (!isRecord(root)) throw new NoKey(file);
  // compose v2's top-level `include:` pulls in whole projects: not followed here.
  if ("include" in root) throw new NoKey(file);
  const services = root.services ?? {};
  if (!isRecord(services)) throw new NoKey(file);
  const bases = [...new Set([path.dirname(file), workingDir])];
  for (const svc of Object.values(services)) {
    if (svc === null) continue;
    if (!isRecord(svc)) throw new NoKey(file);
    // Compose v2's label_file folds another file in too.
    if ("label_file" in svc) throw new NoKey(file);
    for (const ref of envFiles(svc.env_file, file)) {
      let readable = 0;
      for (const candidate of candidates(ref, bases, file)) {
        const content = await readOrAbsent(candidate);
        add(`env_file ${candidate}`, content);
        if (content !== "absent") readable++;
      }
      if (readable === 0) throw new NoKey(ref);
    }
    if (svc.extends === undefined || typeof svc.extends === "string") continue;
    if (!isRecord(svc.extends)) throw new NoKey(file);
    const ext = svc.extends.file;
    if (ext === undefined) continue;
    if (typeof ext !== "string") throw new NoKey(file);
    let readable = 0;
    for (const candidate of candidates(ext, bases, file)) {
      const content = await readOrAbsent(candidate);
      add(`extends ${candidate}`, content);
      if (content === "absent") continue;
      readable++;
      await addReferences(candidate, content.slice("present\0".length), workingDir, add, visited, depth + 1);
    }
    if (readable === 0) throw new NoKey(ext);
  }
}

function envFiles(value: unknown, file: string): string[] {
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((e: unknown) => {
    if (typeof e === "string") return e;
    if (isRecord(e) && typeof e.path === "string") return e.path;
    throw new NoKey(file);
  });
}

function candidates(ref: string, bases: string[], file: string): string[] {
  // An interpolated path (`${DIR}/x.env`) would need compose's interpolation: not followed here.
  if (ref.includes("$") || ref.startsWith("~")) throw new NoKey(file);
  return [...new Set(bases.map((b) => path.resolve(b, ref)))];
}

/** Path, size, mtime and inode of the compose executable: an upgrade in place changes the key. */
async function executableIdentity(flavor: ComposeFlavor | "docker", env: NodeJS.ProcessEnv): Promise<string> {
  const name = flavor === "docker" ? "docker" : "docker-compose";
  const dirs =
    flavor !== "v2"
      ? (env.PATH ?? "").split(path.delimiter).filter(Boolean)
      : [
          ...(env.DOCKER_CONFIG ? [path.join(env.DOCKER_CONFIG, "cli-plugins")] : []),
          ...(env.HOME ? [path.join(env.HOME, ".docker", "cli-plugins")] : []),
          ...PLUGIN_DIRS,
        ];
  for (const dir of dirs) {
    const file = path.resolve(dir, name);
    try {
      const st = await stat(file);
      if (st.isFile()) return `${file} ${st.size} ${st.mtimeMs} ${st.ino}`;
    } catch {
      // not in this directory
    }
  }
  return "not found";
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
