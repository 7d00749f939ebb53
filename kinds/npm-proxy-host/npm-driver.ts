/**
 * The NPM proxy-host driver: observe, plan and apply over NPM's SQLite, the confs under
 * `<dataDir>/nginx/proxy_host/`, and `docker exec <container> nginx ...` through the Runner.
 *
 * It writes the way NPM's own backend does (backend/internal/nginx.js): a short transaction per host, the
 * conf rendered from the row, `nginx -t`, `nginx -s reload`, but once per apply rather than once per host.
 * Unlike NPM it also rewrites the conf (NPM never regenerates confs from the database: a DB-only edit never
 * reaches nginx), backs the database up before the first write of an apply, puts every row and conf of the
 * apply back when nginx refuses one (a row it created is removed), and probes each host through NPM's nginx
 * after the reload: from the host through NPM's published port, else inside its container, else the apply is
 * reported unverified (a warning, never a rollback).
 *
 * This class only orchestrates; the I/O lives beside it: npm-db.ts (SQL and backups), conf-files.ts and
 * conf-staging.ts (confs, the batch, `nginx -t`, reload, putting back), probe.ts, probe-http.ts and
 * probe-exec.ts (the post-reload probe), nginx-env.ts (the container, `docker exec`, published ports, nginx
 * version and IPv6), inventory-file.ts.
 */
import { join } from "node:path";
import type { Change } from "../../core/changes.js";
import { ApplyError, errorMessage } from "../../core/errors.js";
import type { ApplyReport } from "../../core/kind.js";
import type { ResourceRef } from "../../core/refs.js";
import type { DesiredProxyHost } from "../../core/resources.js";
import type { Runner } from "../../core/runner.js";
import { ConfFiles } from "./conf-files.js";
import { describeNames, StagedBatch, type Culprit } from "./conf-staging.js";
import { FileProxyHostInventory } from "./inventory-file.js";
import { NpmContainer, type NginxEnv } from "./nginx-env.js";
import { backupNpmDatabase, NpmDb } from "./npm-db.js";
import { NpmProbe } from "./probe.js";
import { buildActual, KIND, matchRows, type NpmProxyHostActual, type ProxyHostInventory } from "./proxy-host-plan.js";

export { FileProxyHostInventory } from "./inventory-file.js";

export interface NpmDriverOptions {
  runner: Runner;
  /** NPM's data dir on the host: database.sqlite and nginx/proxy_host/ inside. */
  dataDir: string;
  /** The NPM container: `nginx -t` and `nginx -s reload` run in it; its published ports carry the probe. */
  container: string;
  /** tack's state dir: the inventory file and database backups live here. */
  stateDir: string;
  backupsToKeep?: number;
  /** Detected once with `docker exec <container> nginx -v` when not given. */
  nginxVersion?: string;
  /** NPM renders IPv6 listens unless DISABLE_IPV6 is set in its container; detected when not given. */
  ipv6?: boolean;
  inventory?: ProxyHostInventory;
  /** How long the post-reload probe keeps trying before the change fails. */
  probeTimeoutMs?: number;
  /** busy_timeout of each SQLite connection; a bounded retry with backoff sits on top of it. */
  busyTimeoutMs?: number;
}

export interface NpmApplyOptions {
  /** Probe through NPM's nginx after each reload (default true). Off only for offline unit tests. */
  probe?: boolean;
}

export class NpmProxyHostDriver {
  readonly kind = KIND;
  private readonly dbPath: string;
  private readonly backupDir: string;
  private readonly busyTimeoutMs: number;
  private readonly confs: ConfFiles;
  private readonly container: NpmContainer;
  private readonly probe: NpmProbe;
  private readonly inventory: ProxyHostInventory;

  constructor(private readonly options: NpmDriverOptions) {
    this.dbPath = join(options.dataDir, "database.sqlite");
    this.backupDir = join(options.stateDir, "npm-backups");
    this.busyTimeoutMs = options.busyTimeoutMs ?? 1000;
    this.confs = new ConfFiles(join(options.dataDir, "nginx", "proxy_host"));
    this.container = new NpmContainer(options.runner, options.container, { nginxVersion: options.nginxVersion, ipv6: options.ipv6, stateDir: options.stateDir });
    this.probe = new NpmProbe(this.container, join(options.dataDir, "logs"), options.probeTimeoutMs ?? 15_000);
    this.inventory = options.inventory ?? new FileProxyHostInventory(join(options.stateDir, "npm-proxy-hosts.json"));
  }

  async observe(desired: DesiredProxyHost[]): Promise<Map<string, NpmProxyHostActual>> {
    const env = await this.nginxEnv();
    const db = NpmDb.open(this.dbPath, { readonly: true, busyTimeoutMs: this.busyTimeoutMs });
    try {
      const matches = matchRows(desired, await db.liveRows(), await this.inventory.load());
      const out = new Map<string, NpmProxyHostActual>();
      for (const [name, match] of matches) {
        out.set(name, buildActual(match, await this.confs.read(match.model.id), db.renderContext(match.model, env)));
      }
      return out;
    } finally {
      db.close();
    }
  }

  /**
   * Every live row, each as `observe` reports it for a desired host naming its exact domains: ownership from the
   * inventory, the conf on disk, what the row renders to. tack import reads NPM through this, to see what
   * `tack plan` will see.
   */
  async observeAll(): Promise<NpmProxyHostActual[]> {
    const env = await this.nginxEnv();
    const db = NpmDb.open(this.dbPath, { readonly: true, busyTimeoutMs: this.busyTimeoutMs });
    try {
      const origin = new Map((await this.inventory.load()).map((e) => [e.id, e.origin]));
      const out: NpmProxyHostActual[] = [];
      for (const model of (await db.liveRows()).sort((a, b) => a.id - b.id)) {
        const match = { model, ownership: origin.get(model.id) ?? ("unmanaged" as const), conflict: false };
        out.push(buildActual(match, await this.confs.read(model.id), db.renderContext(model, env)));
      }
      return out;
    } finally {
      db.close();
    }
  }

  /**
   * One apply is one batch, so its cost does not grow with `nginx -t` × hosts (each test parses every conf:
   * at 800 hosts one test took ~3.7 s): every row and conf is written first, then one `nginx -t`, one reload,
   * and one probe pass through NPM for all hosts. The batch is all or nothing: a refused conf or a failed probe
   * puts every row and conf of the batch back (the refused conf is kept as `.err`, its error in the row's meta),
   * and the inventory as it was.
   */
  async apply(changes: Change<DesiredProxyHost, NpmProxyHostActual>[], options: NpmApplyOptions = {}): Promise<ApplyReport> {
    if (changes.length === 0) return { warnings: [] };
    const phase = changes[0]!.phase;
    const env = await this.nginxEnv();
    await backupNpmDatabase(this.dbPath, this.backupDir, this.options.backupsToKeep ?? 5, this.busyTimeoutMs);
    const db = NpmDb.open(this.dbPath, { readonly: false, busyTimeoutMs: this.busyTimeoutMs });
    const inventory = await this.inventory.load();
    const before = structuredClone(inventory);
    const batch = new StagedBatch(db, this.confs, this.container, env);
    const fail = async (ref: ResourceRef, err: unknown, culprit?: Culprit): Promise<never> => {
      await batch.putBack(culprit);
      await this.inventory.save(before);
      throw new ApplyError(errorMessage(err), { ref, phase, cause: err, applied: [] });
    };
    try {
      for (const change of changes) {
        try {
          await batch.stage(change, inventory);
        } catch (err) {
          await fail(change.ref, err);
        }
      }
      // Saved before nginx sees anything: a crash from here on leaves no created row unknown to the inventory.
      await this.inventory.save(inventory);
      if (batch.staged.length === 0) return { warnings: [] }; // adoptions only: nothing for nginx to do

      const refused = await batch.test();
      if (refused) await fail(refused.ref, refused.error, refused.culprit);
      await batch.reload();

      const serving = batch.serving();
      const warnings: string[] = [];
      if ((options.probe ?? true) && serving.length > 0) {
        const { failed, unverified } = await this.probe.probeAll(serving);
        if (unverified !== undefined) {
          // No way to probe is not a failed host: the batch stays, said unverified (never rolled back for a tool).
          warnings.push(`NPM changes applied but unverified: ${describeNames(serving)} not probed (${unverified})`);
        }
        if (failed.length > 0) {
          const more = failed.length > 1 ? ` (and ${failed.length - 1} more: ${describeNames(failed.slice(1).map((f) => f.target))})` : "";
          await batch.putBackServing();
          await this.inventory.save(before);
          const first = failed[0]!;
          throw new ApplyError(
            `probe through NPM failed after the switch, previous row and conf restored: ${errorMessage(first.error)}${more}`,
            { ref: first.target.ref, phase, cause: first.error, applied: [] },
          );
        }
      }
      await batch.settle();
      return { warnings };
    } finally {
      db.close();
    }
  }

  /** The NPM container's nginx version and IPv6 setting, read once per driver (see nginx-env.ts). */
  nginxEnv(): Promise<NginxEnv> {
    return this.container.nginxEnv();
  }
}

