import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { tempDir } from "../helpers/temp-repo.js";
import { tack } from "../pr-plan/pr-repo.js";

/** `tack completion bash|zsh`: the generated scripts, run by the real shells. */

async function script(shell: "bash" | "zsh"): Promise<string> {
  const r = await tack(["completion", shell]);
  expect(r.code).toBe(0);
  const file = path.join(await tempDir(), `tack.${shell}`);
  await writeFile(file, r.stdout);
  return file;
}

/** What bash completes for `tack <words>` with the cursor on the last word. */
async function bashComplete(file: string, words: string[], cwd?: string): Promise<string[]> {
  const arr = words.map((w) => `'${w}'`).join(" ");
  const r = await execa("bash", ["-c", `source '${file}'; COMP_WORDS=(tack ${arr}); COMP_CWORD=${words.length}; _tack; printf '%s\\n' "\${COMPREPLY[@]}"`], cwd ? { cwd } : {});
  return r.stdout.split("\n").filter(Boolean);
}

describe("shell completion", () => {
  it("bash: commands, flags of a command, a flag's choices, and files elsewhere", async () => {
    const file = await script("bash");
    expect(await bashComplete(file, ["pl"])).toEqual(["plan"]);
    expect(await bashComplete(file, ["s"])).toEqual(["status", "suspend", "secret"]);
    expect(await bashComplete(file, ["plan", "--base"])).toEqual(["--base", "--base-exact"]);
    expect(await bashComplete(file, ["plan", "--format", ""])).toEqual(["text", "markdown", "json"]);
    expect(await bashComplete(file, ["status", "--format", "j"])).toEqual(["json"]);
    const dir = await tempDir();
    await writeFile(path.join(dir, "tack.yaml"), "");
    expect(await bashComplete(file, ["validate", "ta"], dir)).toEqual(["tack.yaml"]);
  });

  // host-deps.sh installs zsh, so CI never skips this; a developer machine without zsh may.
  it.skipIf(!existsSync("/usr/bin/zsh") && !process.env.CI)("zsh: the script parses, registers _tack, and hands _arguments each command's flags", async () => {
    const file = await script("zsh");
    await execa("zsh", ["-n", file]);
    // compdef/_describe/_arguments are the completion system's; stand-ins print what they were given.
    const probe = (words: string[], current: number) =>
      execa("zsh", ["-f", "-c", [
        "compdef() { print -r -- \"compdef $*\" }",
        "_describe() { print -r -l -- ${(P)4} }",
        "_arguments() { print -r -l -- \"$@\" }",
        `source '${file}'`,
        `words=(tack ${words.map((w) => `'${w}'`).join(" ")}); CURRENT=${current}; _tack`,
      ].join("\n")]);
    const top = (await probe([""], 2)).stdout.split("\n");
    expect(top[0]).toBe("compdef _tack tack");
    expect(top).toContain("validate:check a desired-state repo offline\\: schema, referenced files, cross-references");
    const plan = (await probe(["plan", "--format", ""], 4)).stdout.split("\n");
    expect(plan).toContain("--format[output format]:format:(text markdown json)");
    expect(plan).toContain("--base-exact[start from --base itself, not from its merge-base with --head]");
    expect(plan).toContain("*:file:_files");
  });

  it("refuses a shell it does not know", async () => {
    const r = await tack(["completion", "fish"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/value 'fish' is invalid for argument 'shell'. Allowed choices are bash, zsh/);
  });
});
