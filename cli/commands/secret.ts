import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { decryptAge, encryptAge, identityFileOf, isAgeFile, parseRecipients, readIdentity } from "../../core/age.js";
import { UserError } from "../../core/errors.js";
import { ExecaRunner, type Runner } from "../../core/runner.js";
import { stateDirOf } from "../context.js";
import type { Output } from "../output.js";

/**
 * `tack secret encrypt FILE` and `tack secret edit FILE.age`, for people without the age CLI. Both encrypt to the
 * recipients the repo lists (`secrets.recipients` of the nearest tack.yaml above FILE, or `--recipients`), armored;
 * files made here decrypt with `age -d` and the other way round. Edit decrypts into a private temp dir (in RAM when
 * /dev/shm exists), runs $VISUAL/$EDITOR, re-encrypts, then overwrites and removes the plaintext.
 */
export interface SecretOptions {
  recipients?: string;
  identity?: string;
  out?: string;
  stateDir?: string;
}

/** The recipients file: --recipients, else `secrets.recipients` of the nearest tack.yaml above `file`. */
async function recipientsFor(file: string, opts: SecretOptions): Promise<{ file: string; recipients: string[] }> {
  let list = opts.recipients;
  if (!list) {
    for (let dir = path.dirname(path.resolve(file)); ; dir = path.dirname(dir)) {
      const yaml = path.join(dir, "tack.yaml");
      if (existsSync(yaml)) {
        const docs = parseAllDocuments(await readFile(yaml, "utf8")).map((d) => d.toJS() as { secrets?: { recipients?: string } } | null);
        const rel = docs.find((d) => d?.secrets?.recipients)?.secrets?.recipients;
        if (!rel) throw new UserError(`${yaml} has no secrets.recipients: name the recipients file there, or pass --recipients FILE`);
        list = path.join(dir, rel);
        break;
      }
      if (dir === path.dirname(dir)) throw new UserError(`no tack.yaml above ${file}: pass --recipients FILE (age public keys, one a line)`);
    }
  }
  const recipients = parseRecipients(await readFile(list, "utf8").catch((err: Error) => {
    throw new UserError(`recipients file ${list}: ${err.message}`);
  }));
  if (recipients.length === 0) throw new UserError(`recipients file ${list} lists no recipient`);
  return { file: list, recipients };
}

async function encryptCommand(file: string, opts: SecretOptions, o: Output): Promise<void> {
  if (file.endsWith(".age")) throw new UserError(`${file} ends in .age already: to change it, use tack secret edit ${file}`);
  const plaintext = await readFile(file).catch((err: Error) => {
    throw new UserError(`${file}: ${err.message}`);
  });
  if (isAgeFile(plaintext)) throw new UserError(`${file} is an age file already`);
  const { file: list, recipients } = await recipientsFor(file, opts);
  const out = opts.out ?? `${file}.age`;
  await writeFile(out, await encryptAge(plaintext, recipients), { mode: 0o644 });
  plaintext.fill(0);
  o.out(`${out}: encrypted to ${recipients.length} recipient(s) of ${list}. Commit ${out}; never commit ${file} (delete it, or list it in .gitignore).`);
}

/** Overwrite, then remove: the plaintext does not stay behind in the temp file's blocks (as far as the filesystem allows). */
async function shred(file: string): Promise<void> {
  const st = await stat(file).catch(() => undefined);
  if (st) await writeFile(file, Buffer.alloc(st.size));
  await rm(file, { force: true });
}

async function editCommand(file: string, opts: SecretOptions, o: Output, runner: Runner): Promise<void> {
  if (!file.endsWith(".age")) throw new UserError(`${file} is not an .age file: tack secret edit opens an encrypted file (tack secret encrypt makes one)`);
  const identityFile = opts.identity ?? identityFileOf({ stateDir: stateDirOf(opts.stateDir) });
  const ciphertext = await readFile(file).catch((err: Error) => {
    throw new UserError(`${file}: ${err.message}`);
  });
  const plaintext = await decryptAge(ciphertext, file, await readIdentity(identityFile));
  const { recipients } = await recipientsFor(file, opts);
  const dir = await mkdtemp(path.join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "tack-secret-"));
  const temp = path.join(dir, path.basename(file, ".age"));
  try {
    await writeFile(temp, plaintext, { mode: 0o600 });
    plaintext.fill(0);
    const editor = process.env.VISUAL || process.env.EDITOR || "vi";
    // Through the shell: $EDITOR may carry arguments ("code --wait").
    const r = await runner.run("/bin/sh", ["-c", `${editor} "$1"`, "sh", temp], { interactive: true, okExitCodes: [0, 1, 2, 127] });
    if (r.exitCode !== 0) throw new UserError(`the editor (${editor}) exited with ${r.exitCode}: ${file} is unchanged`);
    const edited = await readFile(temp);
    await writeFile(file, await encryptAge(edited, recipients));
    edited.fill(0);
    o.out(`${file}: re-encrypted to ${recipients.length} recipient(s)`);
  } finally {
    await shred(temp);
    await rm(dir, { recursive: true, force: true });
  }
}

export async function secretCommand(action: "encrypt" | "edit", file: string, opts: SecretOptions, o: Output, runner: Runner = new ExecaRunner()): Promise<void> {
  if (action === "encrypt") await encryptCommand(file, opts, o);
  else await editCommand(file, opts, o, runner);
}
