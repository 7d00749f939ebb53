import { describe, expect, it } from "vitest";
import { runCli } from "../../cli/program.js";

/** `tack import` refuses a command line that names nothing to import before it reads anything of the host. */
async function tack(args: string[]): Promise<{ code: number; err: string }> {
  const err: string[] = [];
  const code = await runCli(args, { out: () => undefined, err: (l) => err.push(l) });
  return { code, err: err.join("\n") };
}

describe("tack import usage errors", () => {
  it("says what to give when nothing would be imported", async () => {
    expect(await tack(["import", "--out", "/nonexistent/x", "--no-ufw"])).toEqual({
      code: 1,
      err: "error: nothing to import: give --domains (NPM), --zone, --compose-project or --units (or leave out --no-ufw)",
    });
  });

  it("wants --out", async () => {
    expect((await tack(["import", "--units", "x-*"])).err).toMatch(/required option '--out <dir>' not specified/);
  });
});
