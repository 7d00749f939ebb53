import { chmod, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { generateHybridIdentity, identityToRecipient } from "age-encryption";
import { afterEach, describe, expect, it } from "vitest";
import { decryptAge, encryptAge, readIdentity } from "../../core/age.js";
import { tack } from "../pr-plan/pr-repo.js";
import { tempDir, tempRepo } from "../helpers/temp-repo.js";
import { addSecrets } from "./secret-repo.js";

/** `tack secret encrypt|edit`, for people without the age CLI: the repo's recipients, a private temp file, no leftovers. */

const editor = process.env.EDITOR;
afterEach(() => {
  if (editor === undefined) delete process.env.EDITOR;
  else process.env.EDITOR = editor;
  delete process.env.VISUAL;
});

describe("tack secret", () => {
  it("encrypt: to the recipients of the nearest tack.yaml; edit: decrypt, $EDITOR, re-encrypt, and the temp file is gone", async () => {
    const repo = await tempRepo();
    const dir = await tempDir();
    const { identityFile } = await addSecrets(repo, dir, [], ["/srv"]);
    const plain = path.join(repo, "secrets", "db.env");
    await writeFile(plain, "DB_PASSWORD=before\n");
    const enc = await tack(["secret", "encrypt", plain]);
    expect(enc.code, enc.stderr).toBe(0);
    expect(enc.stdout).toContain("never commit");
    const age = `${plain}.age`;
    expect(await readFile(age, "utf8")).toMatch(/^-----BEGIN AGE ENCRYPTED FILE-----/);
    const id = await readIdentity(identityFile);
    expect(Buffer.from(await decryptAge(await readFile(age), age, id)).toString()).toBe("DB_PASSWORD=before\n");

    // The "editor" replaces the value and records where the plaintext was put.
    const seenAt = path.join(dir, "seen-at");
    const script = path.join(dir, "editor.sh");
    await writeFile(script, `#!/bin/sh\nsed -i s/before/after/ "$1"\necho "$1" > ${seenAt}\n`);
    await chmod(script, 0o755);
    process.env.EDITOR = script;
    const edit = await tack(["secret", "edit", age, "--identity", identityFile]);
    expect(edit.code, edit.stderr).toBe(0);
    expect(Buffer.from(await decryptAge(await readFile(age), age, id)).toString()).toBe("DB_PASSWORD=after\n");
    const temp = (await readFile(seenAt, "utf8")).trim();
    expect(temp).not.toContain(repo);
    await expect(readFile(temp)).rejects.toThrow(/ENOENT/);
    expect(edit.stdout + edit.stderr).not.toContain("after");
  });

  it("edit: a failing editor leaves the file as it was; a wrong identity says which file it cannot decrypt", async () => {
    const repo = await tempRepo();
    const dir = await tempDir();
    const { identityFile } = await addSecrets(repo, dir, [{ name: "a.env", plaintext: "A=1", target: "/srv/a.env" }], ["/srv"]);
    const age = path.join(repo, "secrets", "a.env.age");
    const before = await readFile(age);
    process.env.EDITOR = "false";
    const failed = await tack(["secret", "edit", age, "--identity", identityFile]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain("is unchanged");
    expect(await readFile(age)).toEqual(before);
    const other = await addSecrets(await tempRepo(), await tempDir(), [], ["/srv"]);
    const wrong = await tack(["secret", "edit", age, "--identity", other.identityFile]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/a\.env\.age: this host's age identity .* cannot decrypt it/);
  });

  it("post-quantum (hybrid) recipients work as well as X25519 ones", async () => {
    const identity = await generateHybridIdentity();
    const recipient = await identityToRecipient(identity);
    expect(recipient).toMatch(/^age1pq1/);
    const file = path.join(await tempDir(), "id.txt");
    await writeFile(file, `${identity}\n`);
    const ct = await encryptAge(Buffer.from("PQ=1"), [recipient]);
    expect(Buffer.from(await decryptAge(ct, "pq.age", await readIdentity(file))).toString()).toBe("PQ=1");
  });
});
