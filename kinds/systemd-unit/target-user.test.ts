import { describe, expect, it } from "vitest";
import { asUser, managerHint } from "./target-user.js";

const delta = { name: "delta", uid: 1000, gid: 1000, home: "/home/delta" };

describe("reaching another user's manager", () => {
  it("runs systemctl as the user, against their runtime dir's bus", () => {
    if (process.getuid?.() === 1000) return; // we would be that user: nothing to switch
    expect(asUser(delta, "systemctl", ["--user", "show", "x.service"])).toEqual({
      cmd: "setpriv",
      args: ["--reuid", "1000", "--regid", "1000", "--init-groups", "--", "systemctl", "--user", "show", "x.service"],
      env: { HOME: "/home/delta", XDG_RUNTIME_DIR: "/run/user/1000", DBUS_SESSION_BUS_ADDRESS: "unix:path=/run/user/1000/bus" },
    });
  });

  it("leaves the command alone without a target user, or when we are that user", () => {
    expect(asUser(undefined, "systemctl", ["--user", "daemon-reload"])).toEqual({ cmd: "systemctl", args: ["--user", "daemon-reload"] });
    const me = process.getuid?.() ?? 0;
    expect(asUser({ ...delta, uid: me }, "systemctl", ["--user"])).toEqual({ cmd: "systemctl", args: ["--user"] });
  });

  it("turns a refused bus connection into the linger advice, and nothing else", () => {
    expect(managerHint(delta, "Failed to connect to bus: No such file or directory")).toMatch(/loginctl enable-linger delta/);
    expect(managerHint(delta, "Unit x.service not found.")).toBeUndefined();
  });
});
