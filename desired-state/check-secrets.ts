import path from "node:path";
import { isAgeFile, isAgeRecipient, parseRecipients, stanzaTypes } from "../core/age.js";
import { UserError } from "../core/errors.js";
import type { Finding } from "../core/findings.js";
import type { PathSegment } from "./locate.js";
import { readRepoBytes, readRepoFile } from "./repo-files.js";
import type { HostDoc } from "./schema.js";

/**
 * The `secrets` section, offline (no identity, no decryption): the recipients file lists age public keys; each
 * source is an age file (a plaintext committed as `.age` is refused), its target is inside an allowed root and
 * claimed once, its scope exists. Ciphertexts are returned base64 for resolution; nothing is decrypted here.
 */
export interface CheckedSecrets {
  /** Repo path → the age file, base64. */
  ciphertexts: Map<string, string>;
  recipients: string[];
}

type Add = (path: PathSegment[], message: string, id?: string, severity?: Finding["severity"]) => void;

/** Is `target` inside one of `roots` (and not a root itself)? */
export function insideRoots(target: string, roots: string[]): boolean {
  const t = path.posix.normalize(target);
  return roots.some((r) => {
    const root = path.posix.normalize(r).replace(/\/+$/, "");
    return t.startsWith(root + "/") && t.length > root.length + 1;
  });
}

/** Also puts the recipients file's text into `files` (resolution lists the recipients from it). */
export async function checkSecrets(doc: HostDoc, repoRoot: string, add: Add, files: Map<string, string>): Promise<CheckedSecrets> {
  const out: CheckedSecrets = { ciphertexts: new Map(), recipients: [] };
  const secrets = doc.secrets;
  if (!secrets) return out;
  try {
    const text = await readRepoFile(repoRoot, secrets.recipients);
    files.set(secrets.recipients, text);
    out.recipients = parseRecipients(text);
    if (out.recipients.length === 0) add(["secrets", "recipients"], `${secrets.recipients} lists no recipient: add this host's public key (age-keygen -y IDENTITY)`);
    for (const r of out.recipients) {
      if (!isAgeRecipient(r)) add(["secrets", "recipients"], `${secrets.recipients}: "${r.slice(0, 24)}" is not an age recipient (age1… or age1pq1…)`);
    }
  } catch (err) {
    add(["secrets", "recipients"], `recipients file missing or refused: ${(err as Error).message}`);
  }
  const targets = new Map<string, number>();
  for (const [i, f] of secrets.files.entries()) {
    const p: PathSegment[] = ["secrets", "files", i];
    if (!insideRoots(f.target, secrets.allowedRoots)) {
      add([...p, "target"], `${f.target} is outside the allowed roots (${secrets.allowedRoots.join(", ")}; secrets.allowedRoots)`);
    }
    const prev = targets.get(path.posix.normalize(f.target));
    if (prev !== undefined) add([...p, "target"], `${f.target} is already the target of secrets.files[${prev}]`);
    else targets.set(path.posix.normalize(f.target), i);
    if (f.scope !== undefined && !(f.scope in doc.scopes)) add([...p, "scope"], `names no scope "${f.scope}"`);
    try {
      const bytes = await readRepoBytes(repoRoot, f.source);
      if (!isAgeFile(bytes)) {
        add([...p, "source"], `${f.source} is not an age file (it looks like plaintext): encrypt it (tack secret encrypt, or age -R ${secrets.recipients}) and commit only the .age file`);
        continue;
      }
      if (stanzaTypes(bytes, f.source).length === 0) add([...p, "source"], `${f.source}: the age header names no recipient (truncated?)`);
      out.ciphertexts.set(f.source, bytes.toString("base64"));
    } catch (err) {
      add([...p, "source"], err instanceof UserError ? err.message : `secret file missing or refused: ${(err as Error).message}`);
    }
  }
  return out;
}
