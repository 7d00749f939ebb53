import { readFile } from "node:fs/promises";
import path from "node:path";
import { Decrypter, Encrypter, armor, identityToRecipient } from "age-encryption";
import { HostError, UserError } from "./errors.js";

/**
 * The age file format (age-encryption.org/v1) through `age-encryption`, the TypeScript implementation by age's
 * author: files made by the `age` CLI decrypt here and the other way round. Armored and binary files both work.
 * Errors never carry plaintext: a wrong recipient or a damaged file is the commit's fault (UserError, naming the
 * file and the stanzas it was encrypted to); a missing identity is the host's (HostError: the agent stalls).
 */

const BINARY_MAGIC = "age-encryption.org/v1\n";
const ARMOR_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----";

/** Does this look like an age file (binary or armored)? A plaintext committed as `.age` does not. */
export function isAgeFile(bytes: Uint8Array): boolean {
  const head = Buffer.from(bytes.subarray(0, 64)).toString("latin1");
  return head.startsWith(BINARY_MAGIC) || head.trimStart().startsWith(ARMOR_BEGIN);
}

function binaryOf(bytes: Uint8Array, source: string): Uint8Array {
  const head = Buffer.from(bytes.subarray(0, 64)).toString("latin1");
  if (head.startsWith(BINARY_MAGIC)) return bytes;
  if (!head.trimStart().startsWith(ARMOR_BEGIN)) throw new UserError(`${source} is not an age file: commit the file age encrypted, never the plaintext`);
  try {
    return armor.decode(Buffer.from(bytes).toString("latin1"));
  } catch (err) {
    throw new UserError(`${source}: the armored age file is damaged (${(err as Error).message})`);
  }
}

/** The recipient stanza types of an age file's header, e.g. ["X25519", "X25519"] (who it was encrypted for). */
export function stanzaTypes(bytes: Uint8Array, source: string): string[] {
  const bin = binaryOf(bytes, source);
  const end = Buffer.from(bin).indexOf("\n---");
  const header = Buffer.from(bin.subarray(0, end < 0 ? Math.min(bin.length, 4096) : end)).toString("latin1");
  return header
    .split("\n")
    .filter((l) => l.startsWith("-> "))
    .map((l) => l.slice(3).split(" ")[0] ?? "?");
}

/** Recipients file lines (age's `-R` format): one public key a line, `#` comments and blank lines ignored. */
export function parseRecipients(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
}

/** An X25519 or post-quantum (hybrid) age recipient. */
export function isAgeRecipient(text: string): boolean {
  return /^age1(pq1)?[02-9ac-hj-np-z]+$/.test(text);
}

/** The host's age identity when `--age-identity` is not given: in the state dir, never in the repo. */
export function identityFileOf(ctx: { stateDir: string; ageIdentity?: string }): string {
  return ctx.ageIdentity ?? path.join(ctx.stateDir, "age-identity.txt");
}

/** The host's age identity file, as age-keygen writes it. */
export interface AgeIdentity {
  file: string;
  keys: string[];
}

export async function readIdentity(file: string): Promise<AgeIdentity> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    throw new HostError(`age identity ${file} cannot be read (${code}): make one with \`age-keygen -o ${file}\` (or pass --age-identity FILE), then add its public key to the repo's recipients`);
  }
  const keys = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith("AGE-SECRET-KEY-"));
  if (keys.length === 0) throw new HostError(`age identity ${file} holds no AGE-SECRET-KEY line`);
  return { file, keys };
}

/** The public keys of an identity (for messages: which recipient this host is). */
export async function recipientsOf(identity: AgeIdentity): Promise<string[]> {
  return Promise.all(identity.keys.map((k) => identityToRecipient(k)));
}

/**
 * Decrypt an age file. A file not encrypted to this identity, a truncated or tampered one, or a plaintext is a
 * UserError naming the file; the message never includes any decrypted byte.
 */
export async function decryptAge(bytes: Uint8Array, source: string, identity: AgeIdentity): Promise<Uint8Array> {
  const bin = binaryOf(bytes, source);
  const d = new Decrypter();
  for (const k of identity.keys) d.addIdentity(k);
  try {
    return await d.decrypt(bin, "uint8array");
  } catch (err) {
    const message = (err as Error).message;
    if (/no identity matched/.test(message)) {
      const stanzas = stanzaTypes(bytes, source);
      const mine = await recipientsOf(identity).catch(() => []);
      throw new UserError(
        `${source}: this host's age identity (${identity.file}: ${mine.join(", ") || "?"}) cannot decrypt it: it was encrypted to ${stanzas.length} recipient(s) (stanzas: ${stanzas.join(", ") || "none"}), none of them this host (or its header was altered); re-encrypt it to the repo's recipients`,
      );
    }
    throw new UserError(`${source}: the age file is truncated or was tampered with (${message}): refusing it`);
  }
}

/** Encrypt to recipients; armored (text, diff-friendly in git) unless `binary`. */
export async function encryptAge(plaintext: Uint8Array, recipients: string[], options: { binary?: boolean } = {}): Promise<Uint8Array> {
  if (recipients.length === 0) throw new UserError("no recipients to encrypt to");
  const e = new Encrypter();
  for (const r of recipients) {
    if (!isAgeRecipient(r)) throw new UserError(`not an age recipient: ${r.slice(0, 20)}… (expected age1…)`);
    e.addRecipient(r);
  }
  const bin = await e.encrypt(plaintext);
  return options.binary ? bin : Buffer.from(armor.encode(bin), "latin1");
}
