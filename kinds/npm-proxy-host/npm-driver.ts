/**
 * The NPM proxy-host driver's I/O: SQLite (better-sqlite3), the conf files under
 * `<dataDir>/nginx/proxy_host/`, and `docker exec <container> nginx ...` through the Runner.
 *
 * It writes the way NPM's own backend does (backend/internal/nginx.js): a short transaction per host, the
 * conf rendered from the row, `nginx -t`, `nginx -s reload`, but once per apply rather than once per host.
 * Unlike NPM it also rewrites the conf (NPM never regenerates confs from the database: a DB-only edit never
 * reaches nginx), backs the database up before the first write of an apply, puts every row and conf of the
 * apply back when nginx refuses one, and probes each host through NPM's nginx after the reload.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import type { Change, FieldChange } from "../../core/changes.js";
import type { Driver } from "../../core/driver.js";
import { ApplyError, CommandError, errorMessage, TackError, TransientError } from "../../core/errors.js";
import type { ResourceRef } from "../../core/refs.js";
import type { DesiredProxyHost } from "../../core/resources.js";
import type { Runner, RunResult } from "../../core/runner.js";
import {
  buildActual,
  diffProxyHost,
  KIND,
  matchRows,
  planProxyHosts,
  type InventoryEntry,
  type NpmProxyHostActual,
  type ProxyHostInventory,
} from "./proxy-host-plan.js";
import { parseNginxVersion, renderProxyHostConf, type AccessListView, type RenderContext } from "./render-conf.js";
import {
  columnValues,
  MANAGED_FIELDS,
  npmDateTime,
  rowToModel,
  sortDomains,
  type ProxyHostFields,
  type ProxyHostMeta,
  type ProxyHostModel,
  type ProxyHostRow,
} from "./row.js";

type Db = Database.Database;

export interface NpmDriverOptions {
  runner: Runner;
  /** NPM's data dir on the host: database.sqlite and nginx/proxy_host/ inside. */
  dataDir: string;
  /** The NPM container, where `nginx -t`, `nginx -s reload` and the probe run. */
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

/** The inventory as a small JSON file in the state dir (the journal can implement the interface later). */
export class FileProxyHostInventory implements ProxyHostInventory {
  constructor(private readonly file: string) {}

  async load(): Promise<InventoryEntry[]> {
    if (!existsSync(this.file)) return [];
    const parsed = JSON.parse(await readFile(this.file, "utf8")) as { hosts?: InventoryEntry[] };
    return parsed.hosts ?? [];
  }

  async save(entries: InventoryEntry[]): Promise<void> {
    const sorted = [...entries].sort((a, b) => a.id - b.id);
    await mkdir(dirname(this.file), { recursive: true });
    await writeAtomic(this.file, JSON.stringify({ version: 1, hosts: sorted }, null, 2) + "\n");
  }
}

async function writeAtomic(file: string, text: string): Promise<void> {
  // The temp name must not end in .conf: nginx includes proxy_host/*.conf and could load a half-written file.
  const tmp = `${file}.tack-${process.pid}-${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(tmp, text, { mode: 0o644 });
  await rename(tmp, file);
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? "";
  return code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED");
}

/** NPM writes without WAL, so a UI save can hold the lock: busy_timeout first, then a bounded backoff. */
async function withBusyRetry<T>(what: string, fn: () => T | Promise<T>, attempts = 8): Promise<T> {
  let delay = 100;
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (!isBusy(err)) throw err;
      if (i >= attempts) throw new TransientError(`${what}: NPM's database stayed locked`, { cause: err });
      await sleep(delay);
      delay = Math.min(delay * 2, 2000);
    }
  }
}

const PROBE_AGENT = "tack-probe";

type ProbeTool = "curl" | "wget" | "nc";

interface ProbeRequest {
  domain: string;
  path: string;
  agent: string;
}

/**
 * The batch probe's shell loop: positional args come in threes (domain, path, agent) and are only ever used
 * quoted; each request prints `tack-probe-status <index> <HTTP status or nothing>`.
 * No `-T` for wget: Debian 12's static busybox wget segfaults on it; the runner's timeout bounds the exec.
 */
const BATCH_PROBE_SCRIPT: Record<"curl" | "wget", string> = {
  curl:
    'i=0; while [ "$#" -ge 3 ]; do ' +
    'code=$(curl -sS -o /dev/null -m 5 -A "$3" -H "Host: $1" -w "%{http_code}" "http://127.0.0.1:80$2" 2>/dev/null); ' +
    'echo "tack-probe-status $i $code"; i=$((i+1)); shift 3; done',
  wget:
    'i=0; while [ "$#" -ge 3 ]; do ' +
    'code=$(wget -S -q -O /dev/null -U "$3" --header "Host: $1" "http://127.0.0.1:80$2" 2>&1 | sed -n "s/.*HTTP\\/1\\.[01] \\([0-9][0-9][0-9]\\).*/\\1/p" | head -n 1); ' +
    'echo "tack-probe-status $i $code"; i=$((i+1)); shift 3; done',
};

/** What one apply wrote for one host, and what putting it back takes. */
interface Staged {
  ref: ResourceRef;
  name: string;
  id: number;
  desired: DesiredProxyHost | undefined;
  /** The row before this apply; undefined for a row this apply created. */
  prev: ProxyHostRow | undefined;
  prevConf: string | undefined;
  /** The conf as written by this apply (undefined: no conf, e.g. a disabled host). */
  conf: string | undefined;
  deleted: boolean;
}

export class NpmProxyHostDriver implements Driver<DesiredProxyHost, NpmProxyHostActual> {
  readonly kind = KIND;
  private readonly runner: Runner;
  private readonly dbPath: string;
  private readonly confDir: string;
  private readonly backupDir: string;
  private readonly inventory: ProxyHostInventory;
  private context: Promise<{ nginxVersion: string; ipv6: boolean }> | undefined;
  private probeTool: ProbeTool | undefined;

  constructor(private readonly options: NpmDriverOptions) {
    this.runner = options.runner;
    this.dbPath = join(options.dataDir, "database.sqlite");
    this.confDir = join(options.dataDir, "nginx", "proxy_host");
    this.backupDir = join(options.stateDir, "npm-backups");
    this.inventory = options.inventory ?? new FileProxyHostInventory(join(options.stateDir, "npm-proxy-hosts.json"));
  }

  // ---------------------------------------------------------------- observe

  async observe(desired: DesiredProxyHost[]): Promise<Map<string, NpmProxyHostActual>> {
    const env = await this.nginxEnv();
    const db = new Database(this.dbPath, { readonly: true, fileMustExist: true, timeout: this.busyTimeout() });
    try {
      const rows = await withBusyRetry("read proxy_host", () =>
        (db.prepare("SELECT * FROM proxy_host WHERE is_deleted = 0").all() as ProxyHostRow[]).map(rowToModel),
      );
      const matches = matchRows(desired, rows, await this.inventory.load());
      const out = new Map<string, NpmProxyHostActual>();
      for (const [name, match] of matches) {
        const ctx = this.renderContext(db, match.model, env);
        out.set(name, buildActual(match, await readIfExists(this.confPath(match.model.id)), ctx));
      }
      return out;
    } finally {
      db.close();
    }
  }

  diff(desired: DesiredProxyHost | undefined, actual: NpmProxyHostActual | undefined): FieldChange[] {
    return diffProxyHost(desired, actual);
  }

  plan(desired: DesiredProxyHost[], actual: Map<string, NpmProxyHostActual>): Change<DesiredProxyHost, NpmProxyHostActual>[] {
    return planProxyHosts(desired, actual);
  }

  // ---------------------------------------------------------------- apply

  /**
   * One apply is one batch, so its cost does not grow with `nginx -t` × hosts (each test parses every conf:
   * at 800 hosts one test took ~3.7 s): every row and conf is written first, then one `nginx -t`, one reload,
   * and one probe pass through NPM for all hosts. The batch is all or nothing: a refused conf or a failed probe
   * puts every row and conf of the batch back (the refused conf is kept as `.err`, its error in the row's meta).
   */
  async apply(changes: Change<DesiredProxyHost, NpmProxyHostActual>[], options: NpmApplyOptions = {}): Promise<void> {
    if (changes.length === 0) return;
    const phase = changes[0]!.phase;
    const env = await this.nginxEnv();
    await this.backup();
    const db = new Database(this.dbPath, { fileMustExist: true, timeout: this.busyTimeout() });
    const inventory = await this.inventory.load();
    const before = structuredClone(inventory);
    const staged: Staged[] = [];
    const fail = async (ref: ResourceRef, err: unknown, culprit?: { id: number; nginxErr: string }): Promise<never> => {
      await this.unstage(db, staged, culprit);
      await this.inventory.save(before);
      throw new ApplyError(errorMessage(err), { ref, phase, cause: err, applied: [] });
    };
    try {
      for (const change of changes) {
        try {
          await this.stage(db, env, change, inventory, staged);
        } catch (err) {
          await fail(change.ref, err);
        }
      }
      // Saved before nginx sees anything: a crash from here on leaves no created row unknown to the inventory.
      await this.inventory.save(inventory);
      if (staged.length === 0) return; // adoptions only: nothing for nginx to do

      try {
        await this.nginx("-t");
      } catch (err) {
        const nginxErr = nginxMessage(err);
        const culprit = culpritOf(nginxErr, staged);
        if (culprit?.conf !== undefined) await writeAtomic(`${this.confPath(culprit.id)}.err`, culprit.conf);
        const what = culprit ? `the conf of ${culprit.name}` : `the confs of ${describeNames(staged)}`;
        await fail(
          culprit?.ref ?? staged[0]!.ref,
          new TackError(`nginx -t refused ${what}, previous row and conf restored: ${nginxErr}`, { cause: err }),
          culprit ? { id: culprit.id, nginxErr } : undefined,
        );
      }
      await this.nginx("-s", "reload");

      const serving = staged.filter((s): s is Staged & { desired: DesiredProxyHost } => s.conf !== undefined && s.desired !== undefined);
      if ((options.probe ?? true) && serving.length > 0) {
        const failed = await this.probeAll(serving);
        if (failed.length > 0) {
          const more = failed.length > 1 ? ` (and ${failed.length - 1} more: ${describeNames(failed.slice(1).map((f) => f.staged))})` : "";
          await this.unstage(db, staged);
          await this.nginx("-t");
          await this.nginx("-s", "reload");
          await this.inventory.save(before);
          const first = failed[0]!;
          throw new ApplyError(
            `probe through NPM failed after the switch, previous row and conf restored: ${errorMessage(first.error)}${more}`,
            { ref: first.staged.ref, phase, cause: first.error, applied: [] },
          );
        }
      }
      await this.markOnline(db, staged.filter((s) => !s.deleted).map((s) => s.id));
      for (const s of staged) await rm(`${this.confPath(s.id)}.err`, { force: true });
    } finally {
      db.close();
    }
  }

  /**
   * Writes one change's row and conf, recording in `staged` (as soon as the row is written) what it takes to put
   * them back. An adoption alone changes no row and stages nothing.
   */
  private async stage(
    db: Db,
    env: { nginxVersion: string; ipv6: boolean },
    change: Change<DesiredProxyHost, NpmProxyHostActual>,
    inventory: InventoryEntry[],
    staged: Staged[],
  ): Promise<void> {
    const { action, desired, actual, ref } = change;
    const name = ref.name;
    if (action === "delete") {
      if (!actual) throw new TackError(`delete of ${name} carries no observed row`);
      const prev = this.readRow(db, actual.id);
      const prevConf = await readIfExists(this.confPath(actual.id));
      await this.write(db, `soft delete ${name}`, () =>
        db.prepare("UPDATE proxy_host SET is_deleted = 1, modified_on = ? WHERE id = ?").run(npmDateTime(new Date()), actual.id),
      );
      staged.push({ ref, name, id: actual.id, desired: undefined, prev, prevConf, conf: undefined, deleted: true });
      await this.removeConf(actual.id);
      removeEntry(inventory, actual.id);
      return;
    }
    if (!desired) throw new TackError(`${action} of ${name} carries no desired host`);
    const declared = declaredFields(desired);
    let entry: Staged;
    if (action === "create") {
      const id = await this.insert(db, declared);
      entry = { ref, name, id, desired, prev: undefined, prevConf: undefined, conf: undefined, deleted: false };
      staged.push(entry);
      // An entry for these domains whose row is gone (deleted in NPM's UI) is stale: the new row replaces it.
      const key = sortDomains(desired.domains).join(",");
      for (const stale of inventory.filter((e) => sortDomains(e.domains).join(",") === key)) removeEntry(inventory, stale.id);
      inventory.push({ id, domains: sortDomains(desired.domains), origin: "created" });
    } else {
      if (!actual) throw new TackError(`update of ${name} carries no observed row`);
      const id = actual.id;
      const prev = this.readRow(db, id);
      if (!prev || prev.is_deleted === 1) throw new TransientError(`row #${id} of ${name} disappeared since it was observed`);
      const prevConf = await readIfExists(this.confPath(id));
      if (actual.ownership === "unmanaged") {
        inventory.push({ id, domains: sortDomains(desired.domains), origin: "adopted" });
      } else {
        const e = inventory.find((x) => x.id === id);
        if (e) e.domains = sortDomains(desired.domains);
      }
      const confOnly = new Set(["ownership", "conf", "nginxOnline"]);
      const rowFields = change.fields.filter((f) => !confOnly.has(f.field));
      if (rowFields.length === 0 && change.fields.every((f) => f.field === "ownership")) return; // adoption only
      entry = { ref, name, id, desired, prev, prevConf, conf: prevConf, deleted: false };
      staged.push(entry);
      if (rowFields.length > 0) {
        // NPM patches meta after a good test; folding it in keeps the success path to one transaction per host.
        const meta = JSON.stringify({ ...parseMeta(prev.meta), nginx_online: true, nginx_err: null });
        const values = { ...columnValues(declared), meta };
        const sets = Object.keys(values).map((c) => `${c} = @${c}`);
        await this.write(db, `update ${name}`, () =>
          db
            .prepare(`UPDATE proxy_host SET ${sets.join(", ")}, modified_on = @modified_on WHERE id = @id`)
            .run({ ...values, modified_on: npmDateTime(new Date()), id }),
        );
      }
    }
    const model = rowToModel(this.readRow(db, entry.id)!);
    entry.conf = renderProxyHostConf(model, this.renderContext(db, model, env));
    if (entry.conf === undefined) await this.removeConf(entry.id);
    else await writeAtomic(this.confPath(entry.id), entry.conf);
  }

  /**
   * Puts every staged row and conf back, newest first: previous rows and confs return, created rows are
   * soft-deleted with the reason in meta. The culprit of a refused `nginx -t` gets nginx's error in its meta.
   */
  private async unstage(db: Db, staged: Staged[], culprit?: { id: number; nginxErr: string }): Promise<void> {
    for (const s of [...staged].reverse()) {
      const nginxErr = culprit?.id === s.id ? culprit.nginxErr : undefined;
      if (s.prev) await this.restore(db, s.id, s.prev, s.prevConf, nginxErr);
      else await this.abandonCreated(db, s.id, nginxErr ?? "not applied: its apply failed and was put back");
    }
  }

  private async restore(db: Db, id: number, prev: ProxyHostRow, prevConf: string | undefined, nginxErr: string | undefined): Promise<void> {
    const { id: _id, ...cols } = prev;
    const meta: ProxyHostMeta = { ...parseMeta(prev.meta) };
    if (nginxErr !== undefined) Object.assign(meta, { nginx_online: false, nginx_err: nginxErr });
    const values: Record<string, unknown> = { ...cols, meta: JSON.stringify(meta) };
    const sets = Object.keys(values).map((c) => `${c} = @${c}`);
    await this.write(db, `restore row #${id}`, () =>
      db.prepare(`UPDATE proxy_host SET ${sets.join(", ")} WHERE id = @id`).run({ ...values, id }),
    );
    if (prevConf === undefined) await this.removeConf(id);
    else await writeAtomic(this.confPath(id), prevConf);
  }

  /** A created row that never served: soft-deleted (so it counts as absent) with nginx's error in meta. */
  private async abandonCreated(db: Db, id: number, nginxErr: string): Promise<void> {
    const meta = JSON.stringify({ nginx_online: false, nginx_err: nginxErr });
    await this.write(db, `abandon row #${id}`, () =>
      db.prepare("UPDATE proxy_host SET is_deleted = 1, meta = ?, modified_on = ? WHERE id = ?").run(meta, npmDateTime(new Date()), id),
    );
    await this.removeConf(id);
  }

  /** After a good test NPM merges {nginx_online: true, nginx_err: null} into meta; rows already so are skipped. */
  private async markOnline(db: Db, ids: number[]): Promise<void> {
    const updates: [string, number][] = [];
    for (const id of ids) {
      const row = this.readRow(db, id);
      if (!row) continue;
      const meta = parseMeta(row.meta);
      if (meta.nginx_online === true && meta.nginx_err === null) continue;
      updates.push([JSON.stringify({ ...meta, nginx_online: true, nginx_err: null }), id]);
    }
    if (updates.length === 0) return;
    await this.write(db, `mark ${updates.length} row(s) online`, () => {
      const stmt = db.prepare("UPDATE proxy_host SET meta = ? WHERE id = ?");
      for (const [meta, id] of updates) stmt.run(meta, id);
    });
  }

  private async insert(db: Db, declared: Partial<ProxyHostFields>): Promise<number> {
    const columns = this.columns(db);
    const now = npmDateTime(new Date());
    const defaults: Record<string, string | number> = {
      created_on: now,
      modified_on: now,
      owner_user_id: this.ownerUserId(db),
      is_deleted: 0,
      forward_scheme: "http",
      access_list_id: 0,
      certificate_id: 0,
      ssl_forced: 0,
      caching_enabled: 0,
      block_exploits: 0,
      advanced_config: "",
      meta: JSON.stringify({ nginx_online: true, nginx_err: null }),
      allow_websocket_upgrade: 0,
      http2_support: 0,
      enabled: 1,
      locations: "[]",
      hsts_enabled: 0,
      hsts_subdomains: 0,
      trust_forwarded_proto: 0,
    };
    const values = { ...defaults, ...columnValues(declared) };
    const names = Object.keys(values).filter((c) => columns.has(c));
    const sql = `INSERT INTO proxy_host (${names.join(", ")}) VALUES (${names.map((c) => `@${c}`).join(", ")})`;
    const picked = Object.fromEntries(names.map((c) => [c, values[c]]));
    const info = await this.write(db, "insert proxy host", () => db.prepare(sql).run(picked));
    return Number(info.lastInsertRowid);
  }

  /** One short IMMEDIATE transaction, retried on SQLITE_BUSY. */
  private write<T>(db: Db, what: string, fn: () => T): Promise<T> {
    return withBusyRetry(what, () => db.transaction(fn).immediate());
  }

  private readRow(db: Db, id: number): ProxyHostRow | undefined {
    return db.prepare("SELECT * FROM proxy_host WHERE id = ?").get(id) as ProxyHostRow | undefined;
  }

  /** PRAGMA table_info: optional columns such as trust_forwarded_proto exist only in newer NPM. */
  private columns(db: Db): Set<string> {
    return new Set((db.prepare("PRAGMA table_info(proxy_host)").all() as { name: string }[]).map((c) => c.name));
  }

  private ownerUserId(db: Db): number {
    try {
      const admin = db
        .prepare("SELECT id FROM user WHERE is_deleted = 0 AND roles LIKE '%admin%' ORDER BY id LIMIT 1")
        .get() as { id: number } | undefined;
      return admin?.id ?? 1;
    } catch {
      return 1;
    }
  }

  private renderContext(db: Db, model: ProxyHostModel, env: { nginxVersion: string; ipv6: boolean }): RenderContext {
    const ctx: RenderContext = { nginxVersion: env.nginxVersion, ipv6: env.ipv6 };
    if (model.certificateId > 0) {
      const cert = optionalGet<{ provider: string }>(db, "SELECT provider FROM certificate WHERE id = ? AND is_deleted = 0", model.certificateId);
      if (cert) ctx.certificate = cert;
    }
    if (model.accessListId > 0) {
      const al = optionalGet<{ pass_auth: number; satisfy_any: number }>(
        db, "SELECT pass_auth, satisfy_any FROM access_list WHERE id = ? AND is_deleted = 0", model.accessListId,
      );
      if (al) {
        const view: AccessListView = {
          passAuth: al.pass_auth === 1,
          satisfyAny: al.satisfy_any === 1,
          authItems: optionalGet<{ n: number }>(db, "SELECT count(*) AS n FROM access_list_auth WHERE access_list_id = ?", model.accessListId)?.n ?? 0,
          clients: optionalAll<{ directive: string; address: string }>(
            db, "SELECT directive, address FROM access_list_client WHERE access_list_id = ? ORDER BY id", model.accessListId,
          ),
        };
        ctx.accessList = view;
      }
    }
    return ctx;
  }

  /** `nginx <args>` in NPM's container; a reload is the one that changes what serves. */
  private nginx(...args: string[]): Promise<RunResult> {
    return this.runner.run("docker", ["exec", this.options.container, "nginx", ...args], { mutates: args.includes("reload") });
  }

  // ---------------------------------------------------------------- probe

  /**
   * A request through NPM's nginx with each host's Host header must reach that host's new upstream (its probe
   * path, answered by the upstream named in NPM's `Sent-to` log field). Returns the hosts that never did.
   */
  private async probeAll(targets: (Staged & { desired: DesiredProxyHost })[]): Promise<{ staged: Staged; error: unknown }[]> {
    // The budget grows with the batch: one pass through 800 hosts takes seconds before any retry.
    const deadline = Date.now() + (this.options.probeTimeoutMs ?? 15_000) + 50 * targets.length;
    const requests = new Map(
      targets.map((t) => [
        t,
        {
          domain: sortDomains(t.desired.domains)[0]!,
          path: t.desired.probePath.startsWith("/") ? t.desired.probePath : `/${t.desired.probePath}`,
          agent: `${PROBE_AGENT}/${randomBytes(6).toString("hex")}`,
        },
      ]),
    );
    const last = new Map<Staged, unknown>();
    let pending = targets;
    // nginx -s reload only signals the master: retry until the new workers answer, or the deadline.
    while (pending.length > 0 && Date.now() < deadline) {
      const statuses = await this.requestManyThroughNpm(pending.map((t) => requests.get(t)!), Math.max(2000, deadline - Date.now()));
      const next: typeof pending = [];
      for (const [i, t] of pending.entries()) {
        const status = statuses[i]!;
        const req = requests.get(t)!;
        if (status instanceof Error) last.set(t, status);
        else if (status < 200 || status >= 400) last.set(t, new TackError(`HTTP ${status}`));
        else {
          const sentTo = await this.sentTo(t.id, req.agent);
          if (sentTo === undefined || sentTo === t.desired.forwardHost) continue;
          last.set(t, new TackError(`request for ${req.domain} was proxied to ${sentTo}, not ${t.desired.forwardHost}`));
        }
        next.push(t);
      }
      pending = next;
      if (pending.length > 0) await sleep(300);
    }
    return pending.map((t) => {
      const { domain, path } = requests.get(t)!;
      const cause = last.get(t) ?? new TackError("no attempt before the deadline");
      return { staged: t, error: new TackError(`GET ${path} with Host ${domain} through ${this.options.container}: ${errorMessage(cause)}`, { cause }) };
    });
  }

  /**
   * Many GETs through NPM in ONE `docker exec` (a shell loop over curl or wget), not one exec per host. The tool
   * is found with a single request first; nc, which needs a script per request, and a lone request go one exec each.
   */
  private async requestManyThroughNpm(requests: ProbeRequest[], timeoutMs: number): Promise<(number | Error)[]> {
    const one = (r: ProbeRequest) => this.requestThroughNpm(r.domain, r.path, r.agent, timeoutMs).catch((e: unknown) => toError(e));
    const out: (number | Error)[] = [];
    if (!this.probeTool) out.push(await one(requests[0]!)); // finds the tool
    const rest = requests.slice(out.length);
    const tool = this.probeTool;
    if ((tool !== "curl" && tool !== "wget") || rest.length <= 1) {
      for (const r of rest) out.push(await one(r));
      return out;
    }
    const script = BATCH_PROBE_SCRIPT[tool];
    const args = ["exec", this.options.container, "sh", "-c", script, "tack-probe", ...rest.flatMap((r) => [r.domain, r.path, r.agent])];
    let stdout: string;
    let failure: Error | undefined;
    try {
      ({ stdout } = await this.runner.run("docker", args, { timeoutMs: Math.max(timeoutMs, 10_000) }));
    } catch (err) {
      failure = toError(err);
      stdout = err instanceof CommandError ? err.stdout : "";
    }
    const byIndex = new Map<number, number>();
    for (const m of stdout.matchAll(/^tack-probe-status (\d+) (\d*)$/gm)) byIndex.set(Number(m[1]), Number(m[2] || 0));
    for (const [i] of rest.entries()) {
      const status = byIndex.get(i);
      if (status === undefined) out.push(failure ?? new TackError(`${this.probeTool}: no answer in the batch`));
      else if (status === 0) out.push(new TackError(`${this.probeTool}: no HTTP response`));
      else out.push(status);
    }
    return out;
  }

  /**
   * One GET to 127.0.0.1:80 inside the NPM container; returns the HTTP status. NPM's image has curl; other
   * images may only have wget or a busybox nc, so the first tool that gives an HTTP answer is remembered.
   */
  private async requestThroughNpm(domain: string, path: string, agent: string, timeoutMs: number): Promise<number> {
    const c = this.options.container;
    const url = `http://127.0.0.1:80${path}`;
    const tools: Record<ProbeTool, string[]> = {
      curl: ["exec", c, "curl", "-sS", "-o", "/dev/null", "-m", "5", "-A", agent, "-H", `Host: ${domain}`, "-w", "%{http_code}", url],
      // No `-T`: Debian 12's static busybox wget segfaults on it; the runner's timeout bounds the call instead.
      wget: ["exec", c, "wget", "-S", "-q", "-O", "/dev/null", "-U", agent, "--header", `Host: ${domain}`, url],
      // busybox nc closes on stdin EOF before the answer comes back: with -e the script owns the socket.
      nc: ["exec", c, "nc", "-w", "5", "127.0.0.1", "80", "-e", "sh", "-c", 'printf "GET %s HTTP/1.0\\r\\nHost: %s\\r\\nUser-Agent: %s\\r\\n\\r\\n" "$1" "$2" "$3"; cat >&2', "probe", path, domain, agent],
    };
    const order: ProbeTool[] = this.probeTool ? [this.probeTool] : ["curl", "wget", "nc"];
    let lastErr: unknown;
    for (const tool of order) {
      let r;
      try {
        r = await this.runner.run("docker", tools[tool], { timeoutMs: Math.min(timeoutMs, 10_000), okExitCodes: [0, 1, 8, 22] });
      } catch (err) {
        lastErr = err;
        continue; // 126/127: no such tool; 139: it crashed
      }
      const text = tool === "curl" ? r.stdout : r.stderr.split("\n").find((l) => l.startsWith("HTTP/")) ?? r.stderr;
      const status = tool === "curl" ? Number(text.trim()) : Number(/HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? NaN);
      if (!Number.isFinite(status) || status === 0) {
        lastErr = new TackError(`${tool}: no HTTP response: ${(r.stderr || r.stdout).trim().slice(0, 300)}`);
        if (this.probeTool) throw lastErr;
        continue;
      }
      this.probeTool = tool;
      return status;
    }
    throw lastErr instanceof Error ? lastErr : new TackError(`no probe tool works in ${c}`);
  }

  /** NPM's `proxy` log format ends with `[Sent-to $server]`: it names the upstream that answered our probe. */
  private async sentTo(id: number, agent: string): Promise<string | undefined> {
    const log = await readIfExists(join(this.options.dataDir, "logs", `proxy-host-${id}_access.log`));
    const line = log?.split("\n").reverse().find((l) => l.includes(agent));
    return line ? /\[Sent-to ([^\]]+)\]/.exec(line)?.[1] : undefined;
  }

  // ---------------------------------------------------------------- files and facts

  private confPath(id: number): string {
    return join(this.confDir, `${id}.conf`);
  }

  private async removeConf(id: number): Promise<void> {
    await rm(this.confPath(id), { force: true });
  }

  private busyTimeout(): number {
    return this.options.busyTimeoutMs ?? 1000;
  }

  /** Backup before the first write of each apply, keeping the newest `backupsToKeep`. */
  private async backup(): Promise<void> {
    await mkdir(this.backupDir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    const target = join(this.backupDir, `database-${stamp}.sqlite`);
    const db = new Database(this.dbPath, { readonly: true, fileMustExist: true, timeout: this.busyTimeout() });
    try {
      await withBusyRetry("back up NPM's database", () => db.backup(target));
    } finally {
      db.close();
    }
    const keep = this.options.backupsToKeep ?? 5;
    const files = (await readdir(this.backupDir)).filter((f) => /^database-.*\.sqlite$/.test(f)).sort();
    for (const old of files.slice(0, Math.max(0, files.length - keep))) await rm(join(this.backupDir, old), { force: true });
  }

  /**
   * The nginx version and IPv6 setting of the NPM container, read once per driver: one `docker inspect` (image
   * and env); `nginx -v` runs in the container only for an image not seen before in this process.
   */
  nginxEnv(): Promise<{ nginxVersion: string; ipv6: boolean }> {
    this.context ??= (async () => {
      const o = this.options;
      let nginxVersion = o.nginxVersion;
      let ipv6 = o.ipv6;
      let image: string | undefined;
      if (ipv6 === undefined || nginxVersion === undefined) {
        const r = await this.runner.run("docker", ["inspect", o.container, "--format", "{{json .Image}} {{json .Config.Env}}"]);
        const [imageJson, ...envJson] = r.stdout.trim().split(" ");
        image = JSON.parse(imageJson ?? "null") as string | undefined;
        const vars = (JSON.parse(envJson.join(" ") || "null") as string[] | null) ?? [];
        const v = vars.find((e) => e.startsWith("DISABLE_IPV6="))?.slice("DISABLE_IPV6=".length).toLowerCase();
        ipv6 ??= !(v === "on" || v === "true" || v === "1" || v === "yes");
      }
      if (!nginxVersion) {
        nginxVersion = image ? nginxVersionByImage.get(image) : undefined;
        if (!nginxVersion) {
          const r = await this.nginx("-v");
          nginxVersion = parseNginxVersion(r.stderr + r.stdout);
          if (!nginxVersion) throw new TackError(`cannot read the nginx version of ${o.container}: ${r.stderr.trim()}`);
          if (image) nginxVersionByImage.set(image, nginxVersion);
        }
      }
      return { nginxVersion, ipv6 };
    })();
    return this.context;
  }
}

/** nginx's version per container image ID: an image never changes, a recreated or upgraded container has a new one. */
const nginxVersionByImage = new Map<string, string>();

function declaredFields(d: DesiredProxyHost): Partial<ProxyHostFields> {
  const out: Partial<ProxyHostFields> = {};
  for (const f of MANAGED_FIELDS) {
    const v = d[f];
    if (v !== undefined) (out as Record<string, unknown>)[f] = f === "domains" ? sortDomains(v as string[]) : v;
  }
  return out;
}

function removeEntry(inventory: InventoryEntry[], id: number): void {
  const i = inventory.findIndex((e) => e.id === id);
  if (i >= 0) inventory.splice(i, 1);
}

function parseMeta(text: string): ProxyHostMeta {
  try {
    return (JSON.parse(text) as ProxyHostMeta | null) ?? {};
  } catch {
    return {};
  }
}

/** nginx's own lines from a failed `nginx -t`, without the docker-ism NPM also filters out. */
function nginxMessage(err: unknown): string {
  const text = err instanceof CommandError ? err.stderr : errorMessage(err);
  return text
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.includes("/var/log/nginx/error.log"))
    .join("\n");
}

function optionalGet<T>(db: Db, sql: string, ...params: unknown[]): T | undefined {
  try {
    return db.prepare(sql).get(...params) as T | undefined;
  } catch {
    return undefined; // table absent in this NPM's schema
  }
}

function optionalAll<T>(db: Db, sql: string, ...params: unknown[]): T[] {
  try {
    return db.prepare(sql).all(...params) as T[];
  } catch {
    return [];
  }
}

/** The staged host whose conf nginx names in a failed test (`... in /data/nginx/proxy_host/12.conf:3`). */
function culpritOf(nginxErr: string, staged: Staged[]): Staged | undefined {
  for (const m of nginxErr.matchAll(/proxy_host\/(\d+)\.conf/g)) {
    const hit = staged.find((s) => s.id === Number(m[1]));
    if (hit) return hit;
  }
  return undefined;
}

function describeNames(staged: Staged[]): string {
  const names = staged.map((s) => s.name);
  return names.length > 5 ? `${names.slice(0, 5).join(", ")} and ${names.length - 5} more` : names.join(", ");
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
