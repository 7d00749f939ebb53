/**
 * The SQL on NPM's SQLite (better-sqlite3): live rows, insert / update / soft delete / restore of proxy_host
 * rows and removal of those an apply created, the certificate and access-list lookups the conf renderer needs,
 * and the backup taken before an apply's first write. Writes the way NPM's backend does (backend/internal/nginx.js): one short transaction
 * per host; every statement retries while NPM holds the lock.
 */
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { TransientError } from "../../core/errors.js";
import type { NginxEnv } from "./nginx-env.js";
import type { AccessListView, RenderContext } from "./render-conf.js";
import { columnValues, npmDateTime, rowToModel, type ProxyHostFields, type ProxyHostMeta, type ProxyHostModel, type ProxyHostRow } from "./row.js";

type Db = Database.Database;

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

export function parseMeta(text: string): ProxyHostMeta {
  try {
    return (JSON.parse(text) as ProxyHostMeta | null) ?? {};
  } catch {
    return {};
  }
}

/** Backup before the first write of each apply, keeping the newest `keep`. */
export async function backupNpmDatabase(dbPath: string, backupDir: string, keep: number, busyTimeoutMs: number): Promise<void> {
  await mkdir(backupDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const target = join(backupDir, `database-${stamp}.sqlite`);
  const db = new Database(dbPath, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs });
  try {
    await withBusyRetry("back up NPM's database", () => db.backup(target));
  } finally {
    db.close();
  }
  const files = (await readdir(backupDir)).filter((f) => /^database-.*\.sqlite$/.test(f)).sort();
  for (const old of files.slice(0, Math.max(0, files.length - keep))) await rm(join(backupDir, old), { force: true });
}

/** One connection to NPM's database; close it when done. */
export class NpmDb {
  private constructor(private readonly db: Db) {}

  /** busy_timeout of the connection; a bounded retry with backoff sits on top of it. */
  static open(file: string, options: { readonly: boolean; busyTimeoutMs: number }): NpmDb {
    return new NpmDb(new Database(file, { readonly: options.readonly, fileMustExist: true, timeout: options.busyTimeoutMs }));
  }

  close(): void {
    this.db.close();
  }

  /** Every row NPM counts as present (soft-deleted rows are gone as far as NPM's UI and nginx are concerned). */
  liveRows(): Promise<ProxyHostModel[]> {
    return withBusyRetry("read proxy_host", () =>
      (this.db.prepare("SELECT * FROM proxy_host WHERE is_deleted = 0").all() as ProxyHostRow[]).map(rowToModel),
    );
  }

  /** The row as stored, soft-deleted or not. */
  row(id: number): ProxyHostRow | undefined {
    return this.db.prepare("SELECT * FROM proxy_host WHERE id = ?").get(id) as ProxyHostRow | undefined;
  }

  /** A new row with NPM's defaults under the declared fields; returns its id. */
  async insert(declared: Partial<ProxyHostFields>): Promise<number> {
    const columns = this.columns();
    const now = npmDateTime(new Date());
    const defaults: Record<string, string | number> = {
      created_on: now,
      modified_on: now,
      owner_user_id: this.ownerUserId(),
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
    const info = await this.write("insert proxy host", () => this.db.prepare(sql).run(picked));
    return Number(info.lastInsertRowid);
  }

  /** Sets the declared fields of row `id`, whose meta was `prevMeta`. */
  async update(what: string, id: number, declared: Partial<ProxyHostFields>, prevMeta: string): Promise<void> {
    // NPM patches meta after a good test; folding it in keeps the success path to one transaction per host.
    const meta = JSON.stringify({ ...parseMeta(prevMeta), nginx_online: true, nginx_err: null });
    const values = { ...columnValues(declared), meta };
    const sets = Object.keys(values).map((c) => `${c} = @${c}`);
    await this.write(what, () =>
      this.db
        .prepare(`UPDATE proxy_host SET ${sets.join(", ")}, modified_on = @modified_on WHERE id = @id`)
        .run({ ...values, modified_on: npmDateTime(new Date()), id }),
    );
  }

  /** What deleting a host in NPM's UI does: the row stays, with is_deleted = 1. */
  async softDelete(what: string, id: number): Promise<void> {
    await this.write(what, () =>
      this.db.prepare("UPDATE proxy_host SET is_deleted = 1, modified_on = ? WHERE id = ?").run(npmDateTime(new Date()), id),
    );
  }

  /** Puts row `id` back as it was; a refused conf's nginx error goes into its meta as NPM records it. */
  async restore(id: number, prev: ProxyHostRow, nginxErr: string | undefined): Promise<void> {
    const { id: _id, ...cols } = prev;
    const meta: ProxyHostMeta = { ...parseMeta(prev.meta) };
    if (nginxErr !== undefined) Object.assign(meta, { nginx_online: false, nginx_err: nginxErr });
    const values: Record<string, unknown> = { ...cols, meta: JSON.stringify(meta) };
    const sets = Object.keys(values).map((c) => `${c} = @${c}`);
    await this.write(`restore row #${id}`, () =>
      this.db.prepare(`UPDATE proxy_host SET ${sets.join(", ")} WHERE id = @id`).run({ ...values, id }),
    );
  }

  /** proxy_host's AUTOINCREMENT counter (sqlite_sequence), 0 before the first insert. */
  sequence(): number {
    return this.optionalGet<{ seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'proxy_host'")?.seq ?? 0;
  }

  /**
   * Takes back rows this apply inserted, as if never written: the rows go (a hard delete, not NPM's soft one,
   * whose is_deleted=1 rows would outlive the put-back) and the id counter returns to `sequenceBefore`, unless
   * another writer (NPM's UI) inserted meanwhile, whose ids must stay unique.
   */
  async removeCreated(ids: number[], sequenceBefore: number): Promise<void> {
    if (ids.length === 0) return;
    await this.write(`remove created row(s) #${ids.join(", #")}`, () => {
      const del = this.db.prepare("DELETE FROM proxy_host WHERE id = ?");
      for (const id of ids) del.run(id);
      // Knex's increments() makes proxy_host AUTOINCREMENT, so sqlite_sequence exists; a hand-made schema may lack it.
      const counted = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'").get();
      if (!counted) return;
      this.db
        .prepare("UPDATE sqlite_sequence SET seq = max(?, (SELECT ifnull(max(id), 0) FROM proxy_host)) WHERE name = 'proxy_host'")
        .run(sequenceBefore);
    });
  }

  /** After a good test NPM merges {nginx_online: true, nginx_err: null} into meta; rows already so are skipped. */
  async markOnline(ids: number[]): Promise<void> {
    const updates: [string, number][] = [];
    for (const id of ids) {
      const row = this.row(id);
      if (!row) continue;
      const meta = parseMeta(row.meta);
      if (meta.nginx_online === true && meta.nginx_err === null) continue;
      updates.push([JSON.stringify({ ...meta, nginx_online: true, nginx_err: null }), id]);
    }
    if (updates.length === 0) return;
    await this.write(`mark ${updates.length} row(s) online`, () => {
      const stmt = this.db.prepare("UPDATE proxy_host SET meta = ? WHERE id = ?");
      for (const [meta, id] of updates) stmt.run(meta, id);
    });
  }

  /** What renderProxyHostConf needs beyond the row: the container's facts, the certificate and the access list. */
  renderContext(model: ProxyHostModel, env: NginxEnv): RenderContext {
    const ctx: RenderContext = { nginxVersion: env.nginxVersion, ipv6: env.ipv6 };
    if (model.certificateId > 0) {
      const cert = this.optionalGet<{ provider: string }>("SELECT provider FROM certificate WHERE id = ? AND is_deleted = 0", model.certificateId);
      if (cert) ctx.certificate = cert;
    }
    if (model.accessListId > 0) {
      const al = this.optionalGet<{ pass_auth: number; satisfy_any: number }>(
        "SELECT pass_auth, satisfy_any FROM access_list WHERE id = ? AND is_deleted = 0", model.accessListId,
      );
      if (al) {
        const view: AccessListView = {
          passAuth: al.pass_auth === 1,
          satisfyAny: al.satisfy_any === 1,
          authItems: this.optionalGet<{ n: number }>("SELECT count(*) AS n FROM access_list_auth WHERE access_list_id = ?", model.accessListId)?.n ?? 0,
          clients: this.optionalAll<{ directive: string; address: string }>(
            "SELECT directive, address FROM access_list_client WHERE access_list_id = ? ORDER BY id", model.accessListId,
          ),
        };
        ctx.accessList = view;
      }
    }
    return ctx;
  }

  /** One short IMMEDIATE transaction, retried on SQLITE_BUSY. */
  private write<T>(what: string, fn: () => T): Promise<T> {
    return withBusyRetry(what, () => this.db.transaction(fn).immediate());
  }

  /** PRAGMA table_info: optional columns such as trust_forwarded_proto exist only in newer NPM. */
  private columns(): Set<string> {
    return new Set((this.db.prepare("PRAGMA table_info(proxy_host)").all() as { name: string }[]).map((c) => c.name));
  }

  private ownerUserId(): number {
    try {
      const admin = this.db
        .prepare("SELECT id FROM user WHERE is_deleted = 0 AND roles LIKE '%admin%' ORDER BY id LIMIT 1")
        .get() as { id: number } | undefined;
      return admin?.id ?? 1;
    } catch {
      return 1;
    }
  }

  private optionalGet<T>(sql: string, ...params: unknown[]): T | undefined {
    try {
      return this.db.prepare(sql).get(...params) as T | undefined;
    } catch {
      return undefined; // table absent in this NPM's schema
    }
  }

  private optionalAll<T>(sql: string, ...params: unknown[]): T[] {
    try {
      return this.db.prepare(sql).all(...params) as T[];
    } catch {
      return [];
    }
  }
}
