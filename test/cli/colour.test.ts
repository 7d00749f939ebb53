import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { colourWanted, painter, wantsMachineFormat } from "../../cli/colour.js";
import { EXAMPLE } from "../helpers/temp-repo.js";

/** Colour for a terminal, plain text for pipes (issue 22, point 7). */

const TACK = path.resolve(import.meta.dirname, "../../bin/tack.js");
const ESC = "\u001b[";
const env = (extra: Record<string, string>) => {
  const e: Record<string, string | undefined> = { ...process.env, TERM: "xterm", ...extra };
  if (!("NO_COLOR" in extra)) delete e.NO_COLOR;
  if (!("FORCE_COLOR" in extra)) delete e.FORCE_COLOR;
  return e;
};

describe("colour and TTY detection", () => {
  it("decides per stream: TTY yes, pipe no, NO_COLOR always wins over a TTY, FORCE_COLOR forces, TERM=dumb no", () => {
    expect(colourWanted({ isTTY: true }, { TERM: "xterm" })).toBe(true);
    expect(colourWanted({ isTTY: false }, { TERM: "xterm" })).toBe(false);
    expect(colourWanted({ isTTY: true }, { TERM: "xterm", NO_COLOR: "1" })).toBe(false);
    expect(colourWanted({ isTTY: false }, { FORCE_COLOR: "1" })).toBe(true);
    expect(colourWanted({ isTTY: true }, { TERM: "dumb" })).toBe(false);
  });

  it("paints severities, actions and locations only, and leaves the words intact", () => {
    const paint = painter(true);
    const lines = ["  error: ssh-lockout: tack.yaml:63:7 firewall.ufw.rules: x", "       delete cloudflare.record CNAME a.example.org (destructive): gone", "tack.yaml:22:12 scopes.api.owner: bad", "valid: vps-1"];
    for (const l of lines) {
      expect(paint(l)).toContain(ESC);
      expect(paint(l).replace(new RegExp(`${ESC.replace("[", "\\[")}\\d+m`, "g"), "")).toBe(l);
    }
    expect(painter(false)(lines[0]!)).toBe(lines[0]);
    expect(wantsMachineFormat(["plan", "--format", "json"])).toBe(true);
    expect(wantsMachineFormat(["plan", "--format=markdown"])).toBe(true);
    expect(wantsMachineFormat(["plan", "--format", "text"])).toBe(false);
  });

  it("the real CLI: coloured on a terminal, plain through a pipe or with NO_COLOR, JSON never painted", async () => {
    const onTty = (cmd: string, extra: Record<string, string> = {}) => execa("script", ["-qec", cmd, "/dev/null"], { env: env(extra) });
    expect((await onTty(`node ${TACK} validate ${EXAMPLE}`)).stdout).toContain(`${ESC}32mvalid:`);
    expect((await onTty(`node ${TACK} validate ${EXAMPLE}`, { NO_COLOR: "1" })).stdout).not.toContain(ESC);
    expect((await onTty(`node ${TACK} plan ${EXAMPLE} --offline --format json`)).stdout).not.toContain(ESC);
    expect((await execa("node", [TACK, "validate", EXAMPLE], { env: env({}) })).stdout).not.toContain(ESC);
  }, 30_000);
});
