import { watch, type FSWatcher } from "chokidar";
import { existsSync } from "node:fs";
import path from "node:path";
import { errorMessage } from "../core/errors.js";
import type { ResolvedHost } from "../core/resources.js";
import { defaultUnitDir } from "../kinds/systemd-unit/systemd-driver.js";
import type { Trigger } from "./scheduler.js";

/**
 * File watchers (chokidar): the directory source (a change is a new revision), and the places drift shows up
 * first, NPM's proxy_host confs, NPM's database file and the systemd unit dirs (a change asks for a drift check).
 * Each path is watched once, from when it exists.
 */
export interface WatcherDeps {
  /** The debounced trigger for a watcher of this reason (Scheduler.debounced). */
  fire(reason: Trigger): () => void;
  /** True while the agent writes to the host (Applier.isOwnWrite): what a drift watcher sees then is ours. */
  isOwnWrite(): boolean;
  /** False once the agent is stopping: no new watcher then. */
  active(): boolean;
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
}

export class Watchers {
  private readonly watchers: FSWatcher[] = [];
  private readonly watched = new Set<string>();

  constructor(private readonly d: WatcherDeps) {}

  watchSource(root: string): void {
    this.watchDir(root, "source");
  }

  /** Watch where the host's drift shows: NPM's proxy_host dir and database, the unit dir of each systemd scope in use. */
  watchDriftOf(h: ResolvedHost): void {
    if (h.npm) this.watchDir(path.join(h.npm.dataDir, "nginx", "proxy_host"), "drift");
    // An edit in NPM's UI changes only its SQLite file (NPM never rewrites a conf from the DB by itself), so
    // without this it waited for the next drift interval. NPM 2.x's knex keeps SQLite's default rollback
    // journal, so a write lands in database.sqlite itself; tack's own reads do not modify it.
    if (h.npm) this.watchDir(path.join(h.npm.dataDir, "database.sqlite"), "drift");
    const scopes = new Set(h.scopes.map((s) => s.native?.systemdScope).filter((s): s is "user" | "system" => !!s));
    for (const s of scopes) this.watchDir(defaultUnitDir(s, this.d.env), "drift");
  }

  async close(): Promise<void> {
    await Promise.all(this.watchers.map((w) => w.close()));
  }

  private watchDir(dir: string, reason: Trigger): void {
    const { log } = this.d;
    if (this.watched.has(dir) || !existsSync(dir) || !this.d.active()) return;
    this.watched.add(dir);
    const fire = this.d.fire(reason);
    const w = watch(dir, { ignoreInitial: true, ignored: (p) => p.split(path.sep).includes(".git") });
    w.on("all", (event, file) => {
      if (reason === "drift" && this.d.isOwnWrite()) return;
      if (reason === "drift") log(`${event} ${file}: checking for drift`);
      fire();
    });
    w.on("error", (err) => log(`watcher of ${dir}: ${errorMessage(err)}`));
    this.watchers.push(w);
    log(`watching ${dir} (${reason})`);
  }
}
