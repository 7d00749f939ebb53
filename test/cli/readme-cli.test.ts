import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { buildProgram } from "../../cli/program.js";

/** README "CLI" must match the CLI: every command in the synopsis and the table, with every flag it takes. */

const README = path.resolve(import.meta.dirname, "../../README.md");

async function cliSection(): Promise<{ synopsis: string; table: string }> {
  const text = await readFile(README, "utf8");
  const section = text.slice(text.indexOf("\n## CLI\n"), text.indexOf("\n## ", text.indexOf("\n## CLI\n") + 5));
  const synopsis = /```\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
  return { synopsis, table: section.slice(section.indexOf("| command |")) };
}

describe("README CLI section", () => {
  it("lists every command with every one of its flags, and nothing the CLI lacks", async () => {
    const { synopsis, table } = await cliSection();
    const program = buildProgram();
    const lines = synopsis.split("\n");
    for (const cmd of program.commands) {
      // A command's synopsis: its `tack NAME` lines plus their indented continuation lines.
      const mine: string[] = [];
      let inside = false;
      for (const l of lines) {
        if (l.startsWith("tack ")) inside = l.startsWith(`tack ${cmd.name()} `) || l === `tack ${cmd.name()}`;
        if (inside) mine.push(l);
      }
      const text = mine.join(" ");
      expect(text, `tack ${cmd.name()} is missing from the README synopsis`).not.toBe("");
      for (const o of cmd.options) expect(text, `README synopsis of tack ${cmd.name()} lacks ${o.long}`).toContain(o.long!);
      for (const flag of text.match(/--[a-z-]+/g) ?? []) {
        expect(cmd.options.map((o) => o.long), `README shows ${flag} for tack ${cmd.name()}, which has no such flag`).toContain(flag);
      }
      expect(table, `tack ${cmd.name()} has no row in the README command table`).toContain(`| \`tack ${cmd.name()}`);
    }
  });
});
