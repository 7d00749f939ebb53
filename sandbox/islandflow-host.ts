import { chmod, copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { ExecaRunner } from "../core/runner.js";
import type { Owner } from "../core/resources.js";
import { Journal } from "../run/journal.js";
import { applyRevision, dirRevision, planLive, resolveLive, type ApplyOutcome, type ReconcileContext, type ReconcileEvent } from "../run/reconcile.js";
import { startCloudflareEmulator, type CloudflareEmulator } from "./cloudflare-emulator/emulator.js";
import { sandbox } from "./sandbox-env.js";

export const EXAMPLE = path.resolve(import.meta.dirname, "../examples/islandflow");
export const CF_TOKEN = "e2e-cloudflare-token-0123456789";
/** The example's demo host identity: decrypts examples/islandflow/secrets/*.age (public, tests and the demo only). */
export const ISLANDFLOW_AGE_IDENTITY = path.resolve(import.meta.dirname, "fixtures/islandflow-age-identity.txt");

/**
 * The islandflow example on the sandbox host: a copy of examples/islandflow pointed at the sandbox's NPM data
 * dir and a private data root, a Cloudflare emulator holding the zone, and a reconcile context with a state dir.
 * Owners are flipped by editing tack.yaml, as a user would.
 */
export interface IslandflowHost {
  repo: string;
  /** The systemd scope the example's units run in on this sandbox (user, as on the reference host, or system). */
  systemdScope: "user" | "system";
  stateDir: string;
  dataRoot: string;
  cf: CloudflareEmulator;
  runner: ExecaRunner;
  journal: Journal;
  events: ReconcileEvent[];
  ctx: ReconcileContext;
  setOwners(owners: Record<string, Owner>): Promise<void>;
  edit(from: string | RegExp, to: string, file?: string): Promise<void>;
  apply(extra?: Partial<ReconcileContext>): Promise<ApplyOutcome>;
  plan(): Promise<Awaited<ReturnType<typeof planLive>>>;
  close(): Promise<void>;
}

export async function islandflowHost(): Promise<IslandflowHost> {
  const sb = sandbox({ parts: ["systemd", "docker", "ufw", "npm"] });
  const base = await mkdtemp(path.join(sb.dir, "islandflow-"));
  const repo = path.join(base, "repo");
  const stateDir = path.join(base, "state");
  const dataRoot = path.join(base, "data");
  await mkdir(dataRoot, { recursive: true });
  await cp(EXAMPLE, repo, { recursive: true });
  // Point the example at the sandbox: NPM's data dir, and a private data root instead of /var/lib/islandflow.
  const yaml = path.join(repo, "tack.yaml");
  let text = await readFile(yaml, "utf8");
  text = text.replace("dataDir: /home/delta/nginx-proxy-manager/data", `dataDir: ${sb.npmData}`);
  // The data root, and the api's secret under it (its target and allowed root).
  text = text.replaceAll("/var/lib/islandflow", dataRoot);
  // A system-scope run puts the same units in /etc/systemd/system of the sandbox's system manager.
  if (sb.systemdScope === "system") text = replaceOnce(text, "systemd: { scope: user }", "systemd: { scope: system }");
  await writeFile(yaml, text);
  for (const f of await readdir(path.join(repo, "units"))) {
    const p = path.join(repo, "units", f);
    await writeFile(p, (await readFile(p, "utf8")).replaceAll("/var/lib/islandflow", dataRoot));
  }
  const cf = await startCloudflareEmulator({ token: CF_TOKEN, zones: [{ name: "example.org" }] });
  process.env.CLOUDFLARE_API_TOKEN = CF_TOKEN;
  process.env.CLOUDFLARE_BASE_URL = cf.baseURL;
  const runner = new ExecaRunner();
  const journal = new Journal(stateDir);
  const events: ReconcileEvent[] = [];
  // The example's host identity where tack looks by default, so `tack plan|apply --state-dir` find it as the agent does.
  await copyFile(ISLANDFLOW_AGE_IDENTITY, path.join(stateDir, "age-identity.txt"));
  await chmod(path.join(stateDir, "age-identity.txt"), 0o600);
  const ctx: ReconcileContext = { runner, stateDir, journal, onEvent: (e) => events.push(e) };
  const edit = async (from: string | RegExp, to: string, file = "tack.yaml") => {
    const p = path.join(repo, file);
    const before = await readFile(p, "utf8");
    const after = before.replace(from, to);
    if (after === before && !before.includes(to)) throw new Error(`edit: ${String(from)} not found in ${file}`);
    await writeFile(p, after);
  };
  return {
    repo,
    systemdScope: sb.systemdScope === "system" ? "system" : "user",
    stateDir,
    dataRoot,
    cf,
    runner,
    journal,
    events,
    ctx,
    edit,
    async setOwners(owners) {
      const p = path.join(repo, "tack.yaml");
      let text = await readFile(p, "utf8");
      for (const [scope, owner] of Object.entries(owners)) {
        const re = new RegExp(`(\\n  ${scope}:\\n    owner: )\\w+`);
        if (!re.test(text)) throw new Error(`setOwners: scope ${scope} not found in tack.yaml`);
        text = text.replace(re, `$1${owner}`); // setting the owner it already has is fine
      }
      await writeFile(p, text);
    },
    apply: (extra = {}) => applyRevision({ dir: repo }, { ...ctx, ...extra }),
    async plan() {
      const resolved = await resolveLive(repo, ctx);
      return planLive(resolved, await dirRevision(repo), ctx);
    },
    async close() {
      journal.close();
      await cf.close();
      await rm(base, { recursive: true, force: true }).catch(() => undefined);
    },
  };
}

function replaceOnce(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`islandflow example: ${JSON.stringify(from)} not found in tack.yaml`);
  return text.replace(from, to);
}
