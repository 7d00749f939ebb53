import Database from "better-sqlite3";

/**
 * Counts SQLite statements from the benchmark side, without touching production code: better-sqlite3's
 * Database and Statement methods live on prototypes, so wrapping them here counts every prepare, exec and
 * statement execution (run/get/all/iterate) of the NPM driver and the journal in this process.
 */
export interface SqliteCounts {
  prepared: number;
  executed: number;
  exec: number;
}

const counts: SqliteCounts = { prepared: 0, executed: 0, exec: 0 };
let installed = false;

type Fn = (...args: unknown[]) => unknown;

function wrap(proto: Record<string, unknown>, name: string, count: () => void): void {
  const original = proto[name] as Fn;
  proto[name] = function (this: unknown, ...args: unknown[]) {
    count();
    return original.apply(this, args);
  };
}

export function installSqliteCounter(): void {
  if (installed) return;
  installed = true;
  const dbProto = Database.prototype as unknown as Record<string, unknown>;
  // The Statement class is native; reach its prototype through one statement of a throwaway in-memory DB.
  const probe = new Database(":memory:");
  const stmtProto = Object.getPrototypeOf(probe.prepare("SELECT 1")) as Record<string, unknown>;
  probe.close();
  wrap(dbProto, "prepare", () => counts.prepared++);
  wrap(dbProto, "exec", () => counts.exec++);
  for (const m of ["run", "get", "all", "iterate"]) wrap(stmtProto, m, () => counts.executed++);
}

export function sqliteCounts(): SqliteCounts {
  return { ...counts };
}

/** Statements run: exec() batches plus prepared statements executed. */
export function statements(c: SqliteCounts): number {
  return c.exec + c.executed;
}
