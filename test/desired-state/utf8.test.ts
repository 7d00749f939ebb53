import { appendFile, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../../cli/program.js";
import { firstInvalidUtf8 } from "../../desired-state/repo-files.js";
import { tempRepo } from "../helpers/temp-repo.js";

/** YAML must be UTF-8 (YAML 1.2, 5.2): a stray Latin-1 byte is refused with where it is, never read as something else. */

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { o: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

/** Insert raw bytes at the start of line `line` (1-based) of a file. */
async function insertBytes(file: string, line: number, bytes: number[]): Promise<void> {
  const buf = await readFile(file);
  let offset = 0;
  for (let l = 1; l < line; l++) offset = buf.indexOf(0x0a, offset) + 1;
  await writeFile(file, Buffer.concat([buf.subarray(0, offset), Buffer.from(bytes), buf.subarray(offset)]));
}

describe("desired-state files must be UTF-8", () => {
  it("refuses a Latin-1 byte in a comment of tack.yaml, with its line and column", async () => {
    const repo = await tempRepo();
    await insertBytes(path.join(repo, "tack.yaml"), 3, [...Buffer.from("# caf"), 0xe9, 0x0a]); // "café" in Latin-1
    const c = capture();
    expect(await runCli(["validate", repo], c.o)).toBe(1);
    expect(c.err.join("\n")).toMatch(/^tack\.yaml:3:6 .*tack\.yaml is not valid UTF-8: byte 3:6/m);
  });

  it("refuses a unit file that is not UTF-8, naming the file and the byte", async () => {
    const repo = await tempRepo();
    await appendFile(path.join(repo, "units/islandflow-api.service"), Buffer.from([0x23, 0x20, 0xff, 0x0a]));
    const c = capture();
    expect(await runCli(["validate", repo], c.o)).toBe(1);
    expect(c.err.join("\n")).toMatch(/scopes\.api\.native\.units\[0\]: unit file missing or refused: units\/islandflow-api\.service is not valid UTF-8: byte \d+:3/);
  });

  it("accepts UTF-8 text, multi-byte characters included", async () => {
    const repo = await tempRepo();
    await insertBytes(path.join(repo, "tack.yaml"), 3, [...Buffer.from("# café, 東京, 🚀\n")]);
    expect(await runCli(["validate", repo], capture().o)).toBe(0);
  });

  it("finds the first byte that is not part of a well-formed sequence", () => {
    const at = (...b: number[]) => firstInvalidUtf8(Uint8Array.from(b));
    expect(at(0x61, 0xc3, 0xa9, 0xe6, 0x9d, 0xb1, 0xf0, 0x9f, 0x9a, 0x80)).toBe(-1); // a é 東 🚀
    expect(at(0x61, 0xe9, 0x62)).toBe(1); // Latin-1 é
    expect(at(0xc0, 0xaf)).toBe(0); // overlong "/"
    expect(at(0xe0, 0x80, 0xaf)).toBe(0); // overlong 3-byte
    expect(at(0xed, 0xa0, 0x80)).toBe(0); // UTF-16 surrogate
    expect(at(0xf4, 0x90, 0x80, 0x80)).toBe(0); // above U+10FFFF
    expect(at(0x61, 0xe6, 0x9d)).toBe(1); // truncated at the end
    expect(at(0x80)).toBe(0); // a lone continuation byte
  });
});
