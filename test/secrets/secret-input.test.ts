import { existsSync } from "node:fs";
import { mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { decryptAge, readIdentity } from "../../core/age.js";
import { HostError, UserError } from "../../core/errors.js";
import { EMPTY_INVENTORY } from "../../core/inventory.js";
import { ExecaRunner } from "../../core/runner.js";
import { SecretDriver } from "../../kinds/secret-file/secret-driver.js";
import { loadDesiredState } from "../../desired-state/index.js";
import { edit, tempDir, tempRepo } from "../helpers/temp-repo.js";
import { addSecrets, writeSecret } from "./secret-repo.js";

/** Bad secret input: a clear error naming the file, offline where it can be, and never a byte of plaintext. */

async function findings(repo: string): Promise<string[]> {
  const r = await loadDesiredState(repo);
  return r.findings.filter((f) => f.severity === "error").map((f) => `${f.path}: ${f.message}`);
}

describe("secrets in the desired state", () => {
  it("a valid section resolves to one secret.file per entry, keyed by target, carrying only the ciphertext", async () => {
    const repo = await tempRepo();
    await addSecrets(repo, await tempDir(), [{ name: "a.env", plaintext: "A=1", target: "/srv/app/a.env", scope: "api" }], ["/srv"]);
    const r = await loadDesiredState(repo);
    expect(r.findings.filter((f) => f.severity === "error")).toEqual([]);
    expect(r.resolved!.resources["secret.file"]).toMatchObject([{ name: "/srv/app/a.env", source: "secrets/a.env.age", mode: 0o600, owner: "root", scope: "api" }]);
    expect(Buffer.from(r.resolved!.resources["secret.file"][0]!.ciphertext, "base64").toString()).toContain("BEGIN AGE ENCRYPTED FILE");
  });

  it("refuses a plaintext committed as .age, a target outside the allowed roots, an unknown scope, a non-.age source", async () => {
    const repo = await tempRepo();
    await addSecrets(repo, await tempDir(), [{ name: "a.env", plaintext: "A=1", target: "/root/.ssh/a.env", scope: "nope" }], ["/srv"]);
    await writeFile(path.join(repo, "secrets", "a.env.age"), "A=1\n");
    const found = await findings(repo);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^secrets\.files\[0\]\.target: \/root\/\.ssh\/a\.env is outside the allowed roots \(\/srv/),
        expect.stringMatching(/^secrets\.files\[0\]\.scope: names no scope "nope"/),
        expect.stringMatching(/^secrets\.files\[0\]\.source: secrets\/a\.env\.age is not an age file \(it looks like plaintext\)/),
      ]),
    );
    expect(found.join("\n")).not.toContain("A=1");
    await edit(path.join(repo, "tack.yaml"), "source: secrets/a.env.age", "source: secrets/a.env");
    expect((await findings(repo)).join("\n")).toContain("must be an age file (*.age)");
  });

  it("the default allowed roots are /etc, /srv, /opt and /var/lib; recipients must be age public keys", async () => {
    const repo = await tempRepo();
    await addSecrets(repo, await tempDir(), [{ name: "a.env", plaintext: "A=1", target: "/home/delta/a.env" }], ["/srv"]);
    await edit(path.join(repo, "tack.yaml"), "  allowedRoots: [/srv]\n", "");
    await writeFile(path.join(repo, "secrets", "recipients.txt"), "ssh-ed25519 AAAA\n");
    const found = (await findings(repo)).join("\n");
    expect(found).toContain("/home/delta/a.env is outside the allowed roots (/etc, /srv, /opt, /var/lib");
    expect(found).toContain('"ssh-ed25519 AAAA" is not an age recipient');
  });
});

describe("decrypting on the host", () => {
  it("a wrong key is a UserError naming the file and its recipient stanzas; a tampered or truncated file too; no identity is a HostError", async () => {
    const dir = await tempDir();
    const repo = await tempRepo();
    const { identityFile } = await addSecrets(repo, dir, [{ name: "a.env", plaintext: "SECRET=topsecret", target: "/srv/a.env" }], ["/srv"]);
    const other = await addSecrets(await tempRepo(), await tempDir(), [], ["/srv"]);
    await writeSecret(repo, "wrong.env", "SECRET=topsecret", [other.recipient], { binary: true });
    const id = await readIdentity(identityFile);
    const wrong = await decryptAge(await readFile(path.join(repo, "secrets", "wrong.env.age")), "secrets/wrong.env.age", id).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(UserError);
    expect((wrong as Error).message).toMatch(/^secrets\/wrong\.env\.age: this host's age identity .* cannot decrypt it: it was encrypted to 1 recipient\(s\) \(stanzas: X25519\)/);
    const good = await readFile(path.join(repo, "secrets", "a.env.age"), "latin1");
    expect(Buffer.from(await decryptAge(Buffer.from(good, "latin1"), "a", id)).toString()).toBe("SECRET=topsecret");
    const lines = good.split("\n");
    const body = lines.length - 3; // the last line of base64 before the END line
    lines[body] = lines[body]!.replace(/^./, (c) => (c === "A" ? "B" : "A"));
    const tampered = await decryptAge(Buffer.from(lines.join("\n"), "latin1"), "secrets/a.env.age", id).catch((e: unknown) => e);
    expect(tampered).toBeInstanceOf(UserError);
    expect((tampered as Error).message).toMatch(/^secrets\/a\.env\.age: /);
    expect((tampered as Error).message).not.toContain("topsecret");
    const missing = await readIdentity(path.join(dir, "nope.txt")).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(HostError);
    expect((missing as Error).message).toContain("age-keygen -o");
  });

  // host-deps.sh installs Debian's age, so CI never skips this; a developer machine without it may.
  it.skipIf(!existsSync("/usr/bin/age") && !process.env.CI)("files made by the age CLI decrypt here, and files made here decrypt with the age CLI", async () => {
    const dir = await tempDir();
    const repo = await tempRepo();
    const { identityFile, recipient } = await addSecrets(repo, dir, [{ name: "a.env", plaintext: "FROM=tack", target: "/srv/a.env" }], ["/srv"]);
    const byCli = path.join(dir, "cli.age");
    await execa("age", ["-r", recipient, "-o", byCli], { input: "FROM=cli" });
    expect(Buffer.from(await decryptAge(await readFile(byCli), "cli.age", await readIdentity(identityFile))).toString()).toBe("FROM=cli");
    const armored = await execa("age", ["-d", "-i", identityFile, path.join(repo, "secrets", "a.env.age")]);
    expect(armored.stdout).toBe("FROM=tack");
  });
});

describe("targets on the host", () => {
  it("a target whose directory is a symlink leading out of the allowed roots is refused before anything is written", async () => {
    const dir = await tempDir();
    const repo = await tempRepo();
    const root = path.join(dir, "root");
    await mkdir(path.join(dir, "outside"), { recursive: true });
    await mkdir(root);
    await symlink(path.join(dir, "outside"), path.join(root, "link"));
    const { identityFile } = await addSecrets(repo, dir, [{ name: "a.env", plaintext: "A=1", target: path.join(root, "link", "a.env") }], [root]);
    const r = await loadDesiredState(repo);
    expect(r.findings.filter((f) => f.severity === "error")).toEqual([]);
    const driver = new SecretDriver(new ExecaRunner(), EMPTY_INVENTORY, identityFile, [root]);
    const refused = await driver.verify(r.resolved!.resources["secret.file"], new Set()).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(UserError);
    expect((refused as Error).message).toContain(`resolves to ${path.join(dir, "outside", "a.env")} on this host, outside the allowed roots`);
  });
});
