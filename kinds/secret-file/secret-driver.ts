import { createHash, randomBytes } from "node:crypto";
import { chown, chmod, readFile, realpath, rm, stat } from "node:fs/promises";
import path from "node:path";
import { decryptAge, readIdentity, type AgeIdentity } from "../../core/age.js";
import { writeFileAtomic } from "../../core/atomic-write.js";
import type { Change } from "../../core/changes.js";
import { HostError, UserError } from "../../core/errors.js";
import { insideRoots } from "../../desired-state/check-secrets.js";
import type { Inventory } from "../../core/inventory.js";
import type { DesiredSecretFile } from "../../core/resources.js";
import type { Runner } from "../../core/runner.js";
import { SECRET_KIND, type ObservedSecret } from "./secret-plan.js";

/**
 * All I/O of `secret.file`. Plaintext lives only inside `apply`, between decryption and the atomic write (and
 * inside `verify`, which decrypts and drops it); it is never returned, logged or stored.
 *
 * Drift without plaintext: at each write the inventory keeps the ciphertext's hash and sha256(salt ‖ plaintext)
 * with a random salt of its own. Observing hashes the target with that salt: equal means the file still holds what
 * tack wrote. Why this and not a plain sha256 of the plaintext: the state DB ends up in backups and bug reports,
 * and an unsalted hash of a short password is a dictionary lookup; why not decrypt at every drift check: observing
 * must work (and stay cheap) without touching the identity, which only apply and verify need.
 */

interface WrittenRecord {
  cipherHash: string;
  salt: string;
  digest: string;
}

/** Targets larger than this are not hashed (a secret is small; the plan then says the file is not tack's). */
const MAX_TARGET_BYTES = 4 * 1024 * 1024;

function saltedDigest(salt: string, content: Uint8Array): string {
  return createHash("sha256").update(Buffer.from(salt, "hex")).update(content).digest("hex");
}

// uid/gid → name, process-wide: a drift check every minute should not spawn getent every time (bench: processes
// per no-op reconcile). Bounded by the few owners secrets use.
const names = new Map<string, Promise<string | undefined>>();

export class SecretDriver {
  private identity: Promise<AgeIdentity> | undefined;

  constructor(
    private readonly runner: Runner,
    private readonly inventory: Inventory,
    private readonly identityFile: string,
    private readonly allowedRoots: string[],
  ) {}

  /**
   * The allowed roots are checked on the path as written when validating; here on the host, the target's nearest
   * existing directory is resolved too, so a symlink (/etc/app → /root) cannot carry a secret out of them.
   */
  private async confined(target: string): Promise<void> {
    let dir = path.dirname(target);
    while (!(await stat(dir).catch(() => undefined))) dir = path.dirname(dir);
    const real = path.join(await realpath(dir), path.relative(dir, target));
    const roots = await Promise.all(this.allowedRoots.map((r) => realpath(r).catch(() => r)));
    if (!insideRoots(real, roots)) throw new UserError(`secret ${target}: it resolves to ${real} on this host, outside the allowed roots (${this.allowedRoots.join(", ")})`);
  }

  private id(): Promise<AgeIdentity> {
    this.identity ??= readIdentity(this.identityFile);
    return this.identity;
  }

  /**
   * Every desired secret decrypts with this host's identity and its target stays inside the allowed roots once
   * symlinks are resolved (before any step runs, so a wrong recipient, a tampered file or a target leading out leaves
   * the host unchanged and marks the revision invalid; a missing identity stalls the agent).
   */
  async verify(desired: DesiredSecretFile[], verified: Set<string>): Promise<void> {
    for (const d of desired) {
      await this.confined(d.name);
      const key = `${this.identityFile}\0${d.cipherHash}`;
      if (verified.has(key)) continue;
      await decryptAge(Buffer.from(d.ciphertext, "base64"), d.source, await this.id());
      verified.add(key);
    }
  }

  private records(): Map<string, WrittenRecord> {
    const out = new Map<string, WrittenRecord>();
    for (const [name, data] of this.inventory.entries(SECRET_KIND)) {
      try {
        out.set(name, JSON.parse(data) as WrittenRecord);
      } catch {
        // A record that does not parse: observed as not written by tack, so the next apply writes it again.
      }
    }
    return out;
  }

  /** Each desired target and each target tack wrote before (to prune), by hash only. */
  async observe(desired: DesiredSecretFile[]): Promise<Map<string, ObservedSecret>> {
    const records = this.records();
    const names = new Set([...desired.map((d) => d.name), ...records.keys()]);
    const out = new Map<string, ObservedSecret>();
    for (const name of [...names].sort()) out.set(name, await this.observeOne(name, records.get(name)));
    return out;
  }

  private async observeOne(name: string, record: WrittenRecord | undefined): Promise<ObservedSecret> {
    const st = await stat(name).catch(() => undefined);
    if (!st?.isFile()) return { name, exists: false, ...(record ? { written: { cipherHash: record.cipherHash, intact: false } } : {}) };
    const [owner, group] = await Promise.all([this.nameOf("passwd", st.uid), this.nameOf("group", st.gid)]);
    let intact = false;
    if (record && st.size <= MAX_TARGET_BYTES) intact = saltedDigest(record.salt, await readFile(name)) === record.digest;
    return {
      name,
      exists: true,
      mode: st.mode & 0o777,
      owner: owner ?? String(st.uid),
      group: group ?? String(st.gid),
      ...(record ? { written: { cipherHash: record.cipherHash, intact } } : {}),
    };
  }

  /** uid/gid → name through NSS (LDAP or sssd users work too). */
  private nameOf(db: "passwd" | "group", id: number): Promise<string | undefined> {
    const key = `${db}:${id}`;
    let p = names.get(key);
    if (!p) {
      p = this.runner.run("getent", [db, String(id)], { okExitCodes: [0, 2] }).then((r) => (r.exitCode === 0 ? r.stdout.split(":")[0] : undefined));
      p.catch(() => names.delete(key)); // a failed lookup is tried again next time
      names.set(key, p);
    }
    return p;
  }

  private async ids(d: DesiredSecretFile): Promise<{ uid: number; gid: number }> {
    const user = await this.runner.run("getent", ["passwd", d.owner], { okExitCodes: [0, 2] });
    const fields = user.stdout.trim().split("\n")[0]?.split(":") ?? [];
    if (user.exitCode !== 0 || fields.length < 4) throw new HostError(`secret ${d.name}: no user "${d.owner}" on this host (getent passwd ${d.owner})`);
    let gid = Number(fields[3]);
    if (d.group) {
      const group = await this.runner.run("getent", ["group", d.group], { okExitCodes: [0, 2] });
      const g = group.stdout.trim().split(":");
      if (group.exitCode !== 0 || g.length < 3) throw new HostError(`secret ${d.name}: no group "${d.group}" on this host (getent group ${d.group})`);
      gid = Number(g[2]);
    }
    return { uid: Number(fields[2]), gid };
  }

  async apply(changes: Change<DesiredSecretFile, ObservedSecret>[]): Promise<void> {
    for (const c of changes) {
      if (c.action === "delete") {
        await rm(c.ref.name, { force: true });
        this.inventory.remove(SECRET_KIND, c.ref.name);
        continue;
      }
      const d = c.desired!;
      await this.confined(d.name);
      const { uid, gid } = await this.ids(d);
      if (!c.fields.some((f) => f.field === "content")) {
        await chown(d.name, uid, gid);
        await chmod(d.name, d.mode);
        continue;
      }
      const plaintext = await decryptAge(Buffer.from(d.ciphertext, "base64"), d.source, await this.id());
      // Mode at creation (the temp file is never readable by others), owner before the rename makes it visible.
      await writeFileAtomic(d.name, plaintext, {
        mode: d.mode,
        beforeRename: async (tmp) => {
          await chown(tmp, uid, gid);
          await chmod(tmp, d.mode); // the umask may have narrowed the mode given at creation
        },
      });
      const salt = randomBytes(16).toString("hex");
      const record: WrittenRecord = { cipherHash: d.cipherHash, salt, digest: saltedDigest(salt, plaintext) };
      plaintext.fill(0);
      this.inventory.add(SECRET_KIND, d.name, JSON.stringify(record));
    }
  }
}
