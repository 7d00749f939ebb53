import { describe, expect, it } from "vitest";
import { parseLauncherArgs } from "./parts.js";

describe("parseLauncherArgs", () => {
  it("defaults to all parts, in start order", () => {
    expect(parseLauncherArgs(["--", "npx", "vitest"])).toEqual({ parts: ["ufw", "systemd", "docker", "npm"], command: ["npx", "vitest"] });
  });
  it("takes --parts in either form, adds docker for npm, keeps the command's own flags", () => {
    expect(parseLauncherArgs(["--parts", "npm,ufw", "--", "sh", "-c", "--parts x"])).toEqual({ parts: ["ufw", "docker", "npm"], command: ["sh", "-c", "--parts x"] });
    expect(parseLauncherArgs(["--parts=systemd", "--", "true"]).parts).toEqual(["systemd"]);
  });
  it("refuses unknown parts, unknown flags and a missing command", () => {
    expect(() => parseLauncherArgs(["--parts", "dockr", "--", "true"])).toThrow(/unknown part\(s\) dockr/);
    expect(() => parseLauncherArgs(["--fast", "--", "true"])).toThrow(/unknown argument "--fast"/);
    expect(() => parseLauncherArgs(["--parts", "ufw"])).toThrow(/no command given/);
    expect(() => parseLauncherArgs(["--"])).toThrow(/no command given/);
  });
});
