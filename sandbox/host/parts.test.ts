import { describe, expect, it } from "vitest";
import { parseLauncherArgs } from "./parts.js";

describe("parseLauncherArgs", () => {
  it("defaults to all parts in start order, Compose v2 and user scope", () => {
    expect(parseLauncherArgs(["--", "npx", "vitest"], {})).toEqual({
      parts: ["ufw", "systemd", "docker", "npm"],
      command: ["npx", "vitest"],
      compose: "v2",
      systemdScope: "user",
    });
  });
  it("takes --parts in either form, adds docker for npm, keeps the command's own flags", () => {
    expect(parseLauncherArgs(["--parts", "npm,ufw", "--", "sh", "-c", "--parts x"], {})).toMatchObject({ parts: ["ufw", "docker", "npm"], command: ["sh", "-c", "--parts x"] });
    expect(parseLauncherArgs(["--parts=systemd", "--", "true"], {}).parts).toEqual(["systemd"]);
  });
  it("chooses the variant from flags, else from the environment", () => {
    const env = { TACK_SANDBOX_COMPOSE_FLAVOR: "v1", TACK_SANDBOX_SYSTEMD_SCOPE: "system" };
    expect(parseLauncherArgs(["--", "true"], env)).toMatchObject({ compose: "v1", systemdScope: "system" });
    expect(parseLauncherArgs(["--compose", "v2", "--systemd-scope=user", "--", "true"], env)).toMatchObject({ compose: "v2", systemdScope: "user" });
  });
  it("refuses unknown parts, flags, variants and a missing command", () => {
    expect(() => parseLauncherArgs(["--parts", "dockr", "--", "true"], {})).toThrow(/unknown part\(s\) dockr/);
    expect(() => parseLauncherArgs(["--fast", "--", "true"], {})).toThrow(/unknown argument "--fast"/);
    expect(() => parseLauncherArgs(["--compose", "v3", "--", "true"], {})).toThrow(/--compose must be v1 or v2, not "v3"/);
    expect(() => parseLauncherArgs(["--", "true"], { TACK_SANDBOX_SYSTEMD_SCOPE: "root" })).toThrow(/\$TACK_SANDBOX_SYSTEMD_SCOPE must be user or system/);
    expect(() => parseLauncherArgs(["--parts", "ufw"], {})).toThrow(/no command given/);
    expect(() => parseLauncherArgs(["--"], {})).toThrow(/no command given/);
  });
});
