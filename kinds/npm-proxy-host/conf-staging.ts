/**
 * One apply's batch of proxy-host writes: each change's row and conf written (and what putting them back takes
 * recorded as soon as the row is written), then one `nginx -t` and one reload for the whole batch. The batch is
 * all or nothing: `putBack` returns every row and conf to what it was, newest first (a created row is removed);
 * the culprit of a refused `nginx -t` keeps its conf as `.err` and nginx's error in its row's meta.
 */
import type { Change } from "../../core/changes.js";
import { CommandError, errorMessage, TackError, TransientError } from "../../core/errors.js";
import type { ResourceRef } from "../../core/refs.js";
import type { DesiredProxyHost } from "../../core/resources.js";
import type { ConfFiles } from "./conf-files.js";
import type { NginxEnv, NpmContainer } from "./nginx-env.js";
import type { NpmDb } from "./npm-db.js";
import type { InventoryEntry, NpmProxyHostActual } from "./proxy-host-plan.js";
import { renderProxyHostConf } from "./render-conf.js";
import { MANAGED_FIELDS, rowToModel, sortDomains, type ProxyHostFields, type ProxyHostRow } from "./row.js";
import { listSome } from "../../core/text.js";

/** What one apply wrote for one host, and what putting it back takes. */
export interface Staged {
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

/** The conf a failed `nginx -t` names: its row gets nginx's error when the batch is put back. */
export interface Culprit {
  id: number;
  nginxErr: string;
}

export interface Refusal {
  ref: ResourceRef;
  error: TackError;
  culprit: Culprit | undefined;
}

type ProxyHostChange = Change<DesiredProxyHost, NpmProxyHostActual>;

export class StagedBatch {
  readonly staged: Staged[] = [];
  /** proxy_host's id counter before this batch's first insert: a put-back returns it there. */
  private sequenceBefore: number | undefined;

  constructor(
    private readonly db: NpmDb,
    private readonly confs: ConfFiles,
    private readonly container: NpmContainer,
    private readonly env: NginxEnv,
  ) {}

  /**
   * Writes one change's row and conf and updates `inventory` to match. An adoption alone changes no row and
   * stages nothing.
   */
  async stage(change: ProxyHostChange, inventory: InventoryEntry[]): Promise<void> {
    const { action, desired, actual, ref } = change;
    if (action === "delete") {
      if (!actual) throw new TackError(`delete of ${ref.name} carries no observed row`);
      return this.stageDelete(ref, actual.id, inventory);
    }
    if (!desired) throw new TackError(`${action} of ${ref.name} carries no desired host`);
    const entry = action === "create" ? await this.stageCreate(ref, desired, inventory) : await this.stageUpdate(change, desired, inventory);
    if (!entry) return;
    const model = rowToModel(this.db.row(entry.id)!);
    entry.conf = renderProxyHostConf(model, this.db.renderContext(model, this.env));
    await this.confs.put(entry.id, entry.conf);
  }

  private async stageDelete(ref: ResourceRef, id: number, inventory: InventoryEntry[]): Promise<void> {
    const prev = this.db.row(id);
    const prevConf = await this.confs.read(id);
    await this.db.softDelete(`soft delete ${ref.name}`, id);
    this.staged.push({ ref, name: ref.name, id, desired: undefined, prev, prevConf, conf: undefined, deleted: true });
    await this.confs.remove(id);
    removeEntry(inventory, id);
  }

  private async stageCreate(ref: ResourceRef, desired: DesiredProxyHost, inventory: InventoryEntry[]): Promise<Staged> {
    this.sequenceBefore ??= this.db.sequence();
    const id = await this.db.insert(declaredFields(desired));
    const entry: Staged = { ref, name: ref.name, id, desired, prev: undefined, prevConf: undefined, conf: undefined, deleted: false };
    this.staged.push(entry);
    // An entry for these domains whose row is gone (deleted in NPM's UI) is stale: the new row replaces it.
    const key = sortDomains(desired.domains).join(",");
    for (const stale of inventory.filter((e) => sortDomains(e.domains).join(",") === key)) removeEntry(inventory, stale.id);
    inventory.push({ id, domains: sortDomains(desired.domains), origin: "created" });
    return entry;
  }

  /** Returns undefined for an adoption alone (the inventory takes the row, nothing is written). */
  private async stageUpdate(change: ProxyHostChange, desired: DesiredProxyHost, inventory: InventoryEntry[]): Promise<Staged | undefined> {
    const { actual, ref } = change;
    if (!actual) throw new TackError(`update of ${ref.name} carries no observed row`);
    const id = actual.id;
    const prev = this.db.row(id);
    if (!prev || prev.is_deleted === 1) throw new TransientError(`row #${id} of ${ref.name} disappeared since it was observed`);
    const prevConf = await this.confs.read(id);
    if (actual.ownership === "unmanaged") {
      inventory.push({ id, domains: sortDomains(desired.domains), origin: "adopted" });
    } else {
      const e = inventory.find((x) => x.id === id);
      if (e) e.domains = sortDomains(desired.domains);
    }
    const confOnly = new Set(["ownership", "conf", "nginxOnline"]);
    const rowFields = change.fields.filter((f) => !confOnly.has(f.field));
    if (rowFields.length === 0 && change.fields.every((f) => f.field === "ownership")) return undefined;
    const entry: Staged = { ref, name: ref.name, id, desired, prev, prevConf, conf: prevConf, deleted: false };
    this.staged.push(entry);
    if (rowFields.length > 0) await this.db.update(`update ${ref.name}`, id, declaredFields(desired), prev.meta);
    return entry;
  }

  /**
   * One `nginx -t` over every conf. On a refusal the conf nginx names (the culprit) is kept as `.err`, and the
   * answer says whom to blame; nothing is put back here.
   */
  async test(): Promise<Refusal | undefined> {
    try {
      await this.container.nginx("-t");
      return undefined;
    } catch (err) {
      const nginxErr = nginxMessage(err);
      const culprit = culpritOf(nginxErr, this.staged);
      if (culprit?.conf !== undefined) await this.confs.keepRefused(culprit.id, culprit.conf);
      const what = culprit ? `the conf of ${culprit.name}` : `the confs of ${describeNames(this.staged)}`;
      return {
        ref: culprit?.ref ?? this.staged[0]!.ref,
        error: new TackError(`nginx -t refused ${what}, previous row and conf restored: ${nginxErr}`, { cause: err }),
        culprit: culprit ? { id: culprit.id, nginxErr } : undefined,
      };
    }
  }

  /** `nginx -s reload`, then (bounded) until the old workers are gone: nginx then serves this batch alone. */
  async reload(): Promise<void> {
    await this.container.reload(3000);
  }

  /** The staged hosts that serve after the reload: a conf and a desired host to probe. */
  serving(): (Staged & { desired: DesiredProxyHost })[] {
    return this.staged.filter((s): s is Staged & { desired: DesiredProxyHost } => s.conf !== undefined && s.desired !== undefined);
  }

  /**
   * Puts every staged row and conf back, newest first: previous rows and confs return; rows this batch created
   * are removed (NPM's database as before the apply, id counter included) with their confs. The culprit of a
   * refused `nginx -t` gets nginx's error in its meta when it had a row before; a created culprit's error stays
   * in the apply's error and its `.err` conf.
   */
  async putBack(culprit?: Culprit): Promise<void> {
    const created: number[] = [];
    for (const s of [...this.staged].reverse()) {
      if (s.prev) {
        await this.db.restore(s.id, s.prev, culprit?.id === s.id ? culprit.nginxErr : undefined);
        await this.confs.put(s.id, s.prevConf);
      } else {
        created.push(s.id);
        await this.confs.remove(s.id);
      }
    }
    await this.db.removeCreated(created, this.sequenceBefore ?? 0);
  }

  /** After the reload nginx serves the batch: put it back, and make nginx serve what was there before. */
  async putBackServing(): Promise<void> {
    await this.putBack();
    await this.container.nginx("-t");
    await this.reload();
  }

  /** The batch serves: rows marked online as NPM does after a good test, and stale `.err` confs gone. */
  async settle(): Promise<void> {
    await this.db.markOnline(this.staged.filter((s) => !s.deleted).map((s) => s.id));
    for (const s of this.staged) await this.confs.removeRefused(s.id);
  }
}

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

/** nginx's own lines from a failed `nginx -t`, without the docker-ism NPM also filters out. */
function nginxMessage(err: unknown): string {
  const text = err instanceof CommandError ? err.stderr : errorMessage(err);
  return text
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.includes("/var/log/nginx/error.log"))
    .join("\n");
}

/** The staged host whose conf nginx names in a failed test (`... in /data/nginx/proxy_host/12.conf:3`). */
function culpritOf(nginxErr: string, staged: Staged[]): Staged | undefined {
  for (const m of nginxErr.matchAll(/proxy_host\/(\d+)\.conf/g)) {
    const hit = staged.find((s) => s.id === Number(m[1]));
    if (hit) return hit;
  }
  return undefined;
}

export function describeNames(staged: { name: string }[]): string {
  const names = staged.map((s) => s.name);
  return listSome(names, 5);
}
