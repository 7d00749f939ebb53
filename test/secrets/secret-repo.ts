import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { encryptAge } from "../../core/age.js";

/**
 * A desired-state repo (a copy of islandflow, say) given a `secrets` section of its own: a fresh age key pair, the
 * recipients file, and one secret per entry. Returns the identity file to decrypt with.
 */
export interface SecretEntry {
  name: string;
  plaintext: string;
  target: string;
  scope?: string;
}

export async function addSecrets(repo: string, dir: string, entries: SecretEntry[], allowedRoots: string[]): Promise<{ identityFile: string; recipient: string }> {
  const identity = await generateIdentity();
  const recipient = await identityToRecipient(identity);
  const identityFile = path.join(dir, "age-identity.txt");
  await writeFile(identityFile, `# test identity\n${identity}\n`, { mode: 0o600 });
  await mkdir(path.join(repo, "secrets"), { recursive: true });
  await writeFile(path.join(repo, "secrets", "recipients.txt"), `# this host\n${recipient}\n`);
  for (const e of entries) await writeSecret(repo, e.name, e.plaintext, [recipient]);
  const files = entries.map((e) => `    - { source: secrets/${e.name}.age, target: ${e.target}${e.scope ? `, scope: ${e.scope}` : ""} }`);
  const section = ["secrets:", "  recipients: secrets/recipients.txt", `  allowedRoots: [${allowedRoots.join(", ")}]`, "  files:", ...files, ""].join("\n");
  const yaml = path.join(repo, "tack.yaml");
  const text = (await readFile(yaml, "utf8")).replace(/^secrets:\n(?: .*\n)*/m, "");
  await writeFile(yaml, text.replace(/^policy:/m, `${section}policy:`));
  return { identityFile, recipient };
}

export async function writeSecret(repo: string, name: string, plaintext: string, recipients: string[], options: { binary?: boolean } = {}): Promise<void> {
  await writeFile(path.join(repo, "secrets", `${name}.age`), await encryptAge(Buffer.from(plaintext), recipients, options));
}
