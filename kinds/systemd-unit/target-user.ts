import { chown, stat } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { UserError } from "../../core/errors.js";
import type { Runner } from "../../core/runner.js";

/**
 * Reaching another user's systemd manager from root (`runtimes.native.systemd.user`): the agent runs as root
 * (tack.service), the app units are that user's. `systemctl --user` as root talks to root's own manager, and
 * `--machine=USER@.host` needs systemd as PID 1 with its bus bridge; so tack runs systemctl as the user
 * (setpriv, no PAM session) with the user's runtime dir, where a lingering user's manager listens
 * (`loginctl enable-linger USER` starts it at boot and keeps it without a login).
 */
export interface TargetUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** The user's passwd entry, through NSS (`getent`), so LDAP or sssd users work as well as /etc/passwd ones. */
export async function lookupUser(runner: Runner, name: string): Promise<TargetUser> {
  const r = await runner.run("getent", ["passwd", name], { okExitCodes: [0, 2] });
  const fields = r.stdout.trim().split("\n")[0]?.split(":") ?? [];
  if (r.exitCode === 2 || fields.length < 7) throw new UserError(`runtimes.native.systemd.user: no user "${name}" on this host (getent passwd ${name})`);
  return { name: fields[0]!, uid: Number(fields[2]), gid: Number(fields[3]), home: fields[5]! };
}

/** Where a user's manager listens: logind's runtime dir, /run/user/UID. */
export function runtimeDirOf(user: TargetUser): string {
  return `/run/user/${user.uid}`;
}

/** The command line that runs `cmd args` as the user, against the user's manager; unchanged when we are that user. */
export function asUser(user: TargetUser | undefined, cmd: string, args: string[]): { cmd: string; args: string[]; env?: Record<string, string> } {
  if (!user || process.getuid?.() === user.uid) return { cmd, args };
  const runtime = runtimeDirOf(user);
  return {
    cmd: "setpriv",
    args: ["--reuid", String(user.uid), "--regid", String(user.gid), "--init-groups", "--", cmd, ...args],
    env: { HOME: user.home, XDG_RUNTIME_DIR: runtime, DBUS_SESSION_BUS_ADDRESS: `unix:path=${runtime}/bus` },
  };
}

/** A refused connection to the user's manager, with what to do about it. */
export function managerHint(user: TargetUser, stderr: string): string | undefined {
  if (!/Failed to connect to bus|No medium found|Connection refused/.test(stderr)) return undefined;
  return `${user.name}'s systemd manager is not running (nothing listens in ${runtimeDirOf(user)}): run \`loginctl enable-linger ${user.name}\` so it starts at boot without a login`;
}

/**
 * Give the user what root created in their home: the unit file and any directories made for it on the way
 * (`~/.config`, `~/.config/systemd`...), so the user can still edit and remove their own unit files.
 */
export async function chownCreated(user: TargetUser | undefined, file: string, createdFrom: string | undefined): Promise<void> {
  if (!user || process.getuid?.() !== 0) return;
  const paths = [file];
  if (createdFrom) for (let d = dirname(file); !relative(createdFrom, d).startsWith("..") && d !== dirname(d); d = dirname(d)) paths.push(d);
  for (const p of paths) {
    if ((await stat(p)).uid !== user.uid) await chown(p, user.uid, user.gid);
  }
}

export function userUnitDir(user: TargetUser): string {
  return join(user.home, ".config", "systemd", "user");
}
