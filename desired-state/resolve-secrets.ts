import { createHash } from "node:crypto";
import path from "node:path";
import { parseRecipients } from "../core/age.js";
import type { DesiredSecretFile, SecretRef } from "../core/resources.js";
import type { HostDoc } from "./schema.js";

/** Resolution of the `secrets` section: one `secret.file` per entry, keyed by its target; pure, never decrypts. */
export function secretResources(doc: HostDoc, ciphertexts: Map<string, string>): DesiredSecretFile[] {
  const out: DesiredSecretFile[] = [];
  for (const f of doc.secrets?.files ?? []) {
    const ciphertext = ciphertexts.get(f.source);
    if (ciphertext === undefined) continue; // reported by checkHost
    const [owner = "root", group] = f.owner.split(":");
    out.push({
      kind: "secret.file",
      name: path.posix.normalize(f.target),
      source: f.source,
      ciphertext,
      cipherHash: createHash("sha256").update(Buffer.from(ciphertext, "base64")).digest("hex"),
      mode: parseInt(f.mode, 8),
      owner,
      // Default: the owner's primary group, looked up on the host at apply time ("" here).
      group: group ?? "",
      ...(f.scope !== undefined ? { scope: f.scope } : {}),
    });
  }
  return out;
}

export function secretRecipients(doc: HostDoc, files: Map<string, string>): string[] {
  return doc.secrets ? parseRecipients(files.get(doc.secrets.recipients) ?? "") : [];
}

/** A token `{ file }` that is a secret's target carries that secret's ciphertext (core/resources.ts SecretRef). */
export function tokenRef(ref: SecretRef, secrets: DesiredSecretFile[]): SecretRef {
  if (!("file" in ref)) return ref;
  const s = secrets.find((d) => d.name === path.posix.normalize(ref.file));
  return s ? { file: ref.file, age: { source: s.source, ciphertext: s.ciphertext } } : ref;
}
