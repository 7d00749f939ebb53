import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { createNpmDatabase } from "../../sandbox/npm-schema.js";
import { backupNpmDatabase, NpmDb } from "./npm-db.js";

/** The SQL layer alone, on a real SQLite file with NPM's schema (no container, no root). */
function fixture(options: { trustForwardedProto?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "tack-npm-db-"));
  const file = join(dir, "database.sqlite");
  createNpmDatabase(file, options);
  return { dir, file, db: NpmDb.open(file, { readonly: false, busyTimeoutMs: 1 }) };
}

const declared = { domains: ["a.example.org"], forwardHost: "api", forwardPort: 4000, websockets: true };

describe("NpmDb", () => {
  it("inserts with NPM's defaults, updates, and puts the row back exactly with nginx's error in meta", async () => {
    const { db } = fixture();
    const id = await db.insert(declared);
    const created = db.row(id)!;
    expect(created).toMatchObject({ domain_names: '["a.example.org"]', forward_host: "api", allow_websocket_upgrade: 1, owner_user_id: 1, is_deleted: 0, trust_forwarded_proto: 0 });
    await db.update("update a", id, { ...declared, forwardPort: 5000 }, JSON.stringify({ letsencrypt_agree: true }));
    expect(db.row(id)).toMatchObject({ forward_port: 5000 });
    expect(JSON.parse(db.row(id)!.meta)).toEqual({ letsencrypt_agree: true, nginx_online: true, nginx_err: null });
    await db.restore(id, created, "unknown directive");
    const { meta, ...rest } = db.row(id)!;
    const { meta: _m, ...createdRest } = created;
    expect(rest).toEqual(createdRest);
    expect(JSON.parse(meta)).toEqual({ nginx_online: false, nginx_err: "unknown directive" });
    db.close();
  });

  it("leaves out columns an older NPM lacks; a soft-deleted row counts as gone", async () => {
    const { db } = fixture({ trustForwardedProto: false });
    const kept = await db.insert(declared);
    const dropped = await db.insert({ ...declared, domains: ["b.example.org"] });
    expect(db.row(kept)).not.toHaveProperty("trust_forwarded_proto");
    await db.softDelete("delete b", dropped);
    expect((await db.liveRows()).map((m) => m.id)).toEqual([kept]);
    expect(db.row(dropped)).toMatchObject({ is_deleted: 1 });
    db.close();
  });

  it("removes created rows as if never inserted: rows gone, id counter back, unless another writer inserted since", async () => {
    const { file, db } = fixture();
    const kept = await db.insert(declared);
    const before = db.sequence();
    expect(before).toBe(kept);
    const created = [await db.insert({ ...declared, domains: ["b.example.org"] }), await db.insert({ ...declared, domains: ["c.example.org"] })];
    await db.removeCreated(created, before);
    expect(created.map((id) => db.row(id))).toEqual([undefined, undefined]);
    expect(db.sequence()).toBe(before);
    expect(await db.insert({ ...declared, domains: ["d.example.org"] })).toBe(kept + 1);
    // NPM's UI inserts while our batch is out: its id stays taken.
    const ours = await db.insert({ ...declared, domains: ["e.example.org"] });
    const other = new Database(file);
    const theirs = Number(other.prepare("INSERT INTO proxy_host (created_on, modified_on, owner_user_id, domain_names, forward_host, forward_port, meta) VALUES ('x', 'x', 1, '[]', 'h', 1, '{}')").run().lastInsertRowid);
    other.close();
    await db.removeCreated([ours], kept + 1);
    expect(db.row(ours)).toBeUndefined();
    expect(db.sequence()).toBe(theirs);
    db.close();
  });

  it("removes created rows from a schema without AUTOINCREMENT (no sqlite_sequence) too", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "tack-npm-db-")), "database.sqlite");
    const raw = new Database(file);
    raw.exec("create table proxy_host (id integer primary key, created_on datetime not null, modified_on datetime not null, owner_user_id integer not null, is_deleted integer not null default 0, domain_names json not null, forward_host varchar(255) not null, forward_port integer not null, meta json not null)");
    raw.close();
    const db = NpmDb.open(file, { readonly: false, busyTimeoutMs: 1 });
    const id = await db.insert(declared);
    expect(db.sequence()).toBe(0);
    await db.removeCreated([id], 0);
    expect(db.row(id)).toBeUndefined();
    db.close();
  });

  it("marks rows online, touching only those that are not already", async () => {
    const { db } = fixture();
    const online = await db.insert(declared);
    const offline = await db.insert({ ...declared, domains: ["b.example.org"] });
    await db.restore(offline, db.row(offline)!, "refused");
    const before = db.row(online)!;
    await db.markOnline([online, offline, 999]);
    expect(db.row(online)).toEqual(before);
    expect(JSON.parse(db.row(offline)!.meta)).toEqual({ nginx_online: true, nginx_err: null });
    db.close();
  });

  it("waits for a lock NPM holds instead of failing the write", async () => {
    const { file, db } = fixture();
    const npm = new Database(file);
    npm.exec("BEGIN IMMEDIATE");
    const release = setTimeout(() => npm.exec("COMMIT"), 250);
    try {
      const id = await db.insert(declared); // busy_timeout is 1 ms: only the backoff gets past the lock
      expect(db.row(id)).toMatchObject({ forward_host: "api" });
    } finally {
      clearTimeout(release);
      npm.close();
      db.close();
    }
  });

  it("backs the database up before a write, keeping the newest copies", async () => {
    const { dir, file, db } = fixture();
    db.close();
    const backups = join(dir, "backups");
    for (let i = 0; i < 4; i++) {
      await backupNpmDatabase(file, backups, 2, 1);
      await new Promise((r) => setTimeout(r, 5)); // distinct millisecond stamps
    }
    const files = readdirSync(backups);
    expect(files).toHaveLength(2);
    const copy = new Database(join(backups, files[1]!), { readonly: true });
    expect(copy.prepare("SELECT count(*) AS n FROM user").get()).toEqual({ n: 1 });
    copy.close();
  });
});
