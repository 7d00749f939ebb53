import Database from "better-sqlite3";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import type { Inventory } from "../core/inventory.js";
import type { ResourceKind } from "../core/refs.js";

/**
 * The state DB (better-sqlite3, WAL) in the state dir: runs, their steps (journaled before and after each one
 * runs), revisions and their outcomes, and small key/values (suspension). A crash at any step leaves a run
 * in status `running`: the next start finds it and recovers (design.md Decisions: crash recovery).
 */
export type RunStatus = "running" | "succeeded" | "failed" | "failed-transient" | "rolled-back" | "rollback-failed" | "interrupted";
export type StepStatus = "started" | "done" | "failed";
export type RevisionStatus = "good" | "failed" | "invalid";

export interface RunRow {
  id: number;
  revision: string;
  kind: "apply" | "rollback";
  status: RunStatus;
  started_at: string;
  finished_at: string | null;
  error: string | null;
  /** The revision rolled back to, for rollback runs and failed applies that rolled back. */
  target: string | null;
}

export interface StepRow {
  run_id: number;
  seq: number;
  phase: string;
  scope: string | null;
  description: string;
  refs: string;
  status: StepStatus;
  started_at: string;
  finished_at: string | null;
  error: string | null;
}

export interface RevisionRow {
  revision: string;
  status: RevisionStatus;
  at: string;
  message: string | null;
  attempts: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  revision TEXT NOT NULL,
  kind TEXT NOT NULL,
  status TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  error TEXT,
  target TEXT
);
CREATE TABLE IF NOT EXISTS steps (
  run_id INTEGER NOT NULL REFERENCES runs(id),
  seq INTEGER NOT NULL,
  phase TEXT NOT NULL,
  scope TEXT,
  description TEXT NOT NULL,
  refs TEXT NOT NULL,
  status TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  error TEXT,
  PRIMARY KEY (run_id, seq)
);
CREATE TABLE IF NOT EXISTS revisions (
  revision TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  at TEXT NOT NULL,
  message TEXT,
  attempts INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS inventory (kind TEXT NOT NULL, name TEXT NOT NULL, data TEXT NOT NULL DEFAULT '', PRIMARY KEY (kind, name));
`;

export class Journal implements Inventory {
  readonly db: Database.Database;

  readonly readonly: boolean;

  constructor(stateDir: string, options: { readonly?: boolean } = {}) {
    this.readonly = options.readonly ?? false;
    if (options.readonly) {
      this.db = new Database(path.join(stateDir, "state.db"), { readonly: true, fileMustExist: true });
      this.db.pragma("busy_timeout = 5000");
      return;
    }
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    this.db = new Database(path.join(stateDir, "state.db"));
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = FULL"); // a step journaled "before" must survive the SIGKILL that follows
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(SCHEMA);
  }

  /** The state DB if there is one, opened read-only: read-only commands (tack status) create nothing. */
  static openExisting(stateDir: string): Journal | undefined {
    return existsSync(path.join(stateDir, "state.db")) ? new Journal(stateDir, { readonly: true }) : undefined;
  }

  close(): void {
    this.db.close();
  }

  private now(): string {
    return new Date().toISOString();
  }

  startRun(revision: string, kind: RunRow["kind"], target?: string): number {
    const r = this.db
      .prepare("INSERT INTO runs (revision, kind, status, started_at, target) VALUES (?, ?, 'running', ?, ?)")
      .run(revision, kind, this.now(), target ?? null);
    return Number(r.lastInsertRowid);
  }

  finishRun(id: number, status: Exclude<RunStatus, "running">, error?: string, target?: string): void {
    this.db
      .prepare("UPDATE runs SET status = ?, finished_at = ?, error = ?, target = COALESCE(?, target) WHERE id = ?")
      .run(status, this.now(), error ?? null, target ?? null, id);
  }

  startStep(runId: number, step: { phase: string; scope?: string; description: string; refs: string[] }): number {
    const seq =
      ((this.db.prepare("SELECT MAX(seq) AS m FROM steps WHERE run_id = ?").get(runId) as { m: number | null }).m ?? 0) + 1;
    this.db
      .prepare("INSERT INTO steps (run_id, seq, phase, scope, description, refs, status, started_at) VALUES (?, ?, ?, ?, ?, ?, 'started', ?)")
      .run(runId, seq, step.phase, step.scope ?? null, step.description, JSON.stringify(step.refs), this.now());
    return seq;
  }

  finishStep(runId: number, seq: number, status: Exclude<StepStatus, "started">, error?: string): void {
    this.db
      .prepare("UPDATE steps SET status = ?, finished_at = ?, error = ? WHERE run_id = ? AND seq = ?")
      .run(status, this.now(), error ?? null, runId, seq);
  }

  steps(runId: number): StepRow[] {
    return this.db.prepare("SELECT * FROM steps WHERE run_id = ? ORDER BY seq").all(runId) as StepRow[];
  }

  run(id: number): RunRow | undefined {
    return this.db.prepare("SELECT * FROM runs WHERE id = ?").get(id) as RunRow | undefined;
  }

  lastRun(): RunRow | undefined {
    return this.db.prepare("SELECT * FROM runs ORDER BY id DESC LIMIT 1").get() as RunRow | undefined;
  }

  /** Runs that never finished: the process died (SIGKILL, power loss) in the middle. */
  unfinishedRuns(): RunRow[] {
    return this.db.prepare("SELECT * FROM runs WHERE status = 'running' ORDER BY id").all() as RunRow[];
  }

  setRevision(revision: string, status: RevisionStatus, message?: string): void {
    this.db
      .prepare(
        `INSERT INTO revisions (revision, status, at, message, attempts) VALUES (?, ?, ?, ?, 1)
         ON CONFLICT(revision) DO UPDATE SET status = excluded.status, at = excluded.at, message = excluded.message,
           attempts = revisions.attempts + 1`,
      )
      .run(revision, status, this.now(), message ?? null);
  }

  revision(revision: string): RevisionRow | undefined {
    return this.db.prepare("SELECT * FROM revisions WHERE revision = ?").get(revision) as RevisionRow | undefined;
  }

  /** The newest revision that applied and passed its gates. */
  lastGoodRevision(): string | undefined {
    const r = this.db.prepare("SELECT revision FROM revisions WHERE status = 'good' ORDER BY at DESC, rowid DESC LIMIT 1").get() as
      | { revision: string }
      | undefined;
    return r?.revision;
  }

  /** The inventory (core/inventory.ts): what tack created or adopted, per kind. */
  entries(kind: ResourceKind): Map<string, string> {
    // A state DB from before the inventory, opened read-only (tack plan), has no such table: nothing is owned yet.
    if (this.readonly && !this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'inventory'").get()) return new Map();
    const rows = this.db.prepare("SELECT name, data FROM inventory WHERE kind = ? ORDER BY name").all(kind) as { name: string; data: string }[];
    return new Map(rows.map((r) => [r.name, r.data]));
  }

  add(kind: ResourceKind, name: string, data = ""): void {
    this.db.prepare("INSERT INTO inventory (kind, name, data) VALUES (?, ?, ?) ON CONFLICT(kind, name) DO UPDATE SET data = excluded.data").run(kind, name, data);
  }

  remove(kind: ResourceKind, name: string): void {
    this.db.prepare("DELETE FROM inventory WHERE kind = ? AND name = ?").run(kind, name);
  }

  get(key: string): string | undefined {
    return (this.db.prepare("SELECT value FROM kv WHERE key = ?").get(key) as { value: string } | undefined)?.value;
  }

  set(key: string, value: string | undefined): void {
    if (value === undefined) this.db.prepare("DELETE FROM kv WHERE key = ?").run(key);
    else this.db.prepare("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(key, value);
  }
}
