import { identityFileOf } from "../../core/age.js";
import type { Change } from "../../core/changes.js";
import { observedOf, type Kind } from "../../core/kind.js";
import type { DesiredSecretFile } from "../../core/resources.js";
import { SecretDriver } from "./secret-driver.js";
import { planSecrets, type ObservedSecret } from "./secret-plan.js";

/**
 * `secret.file`: a file on the host decrypted from an age file in the repo (`secrets.files`). Runtime layer: a
 * secret is written in its scope's runtime-start, before the scope's units or services (order -1), and a rewritten
 * one restarts them behind the scope's gate (core/changes.ts `restartsScope`). Plans show ciphertext hashes only.
 */

function assumed(d: DesiredSecretFile): ObservedSecret {
  return { name: d.name, exists: true, mode: d.mode, owner: d.owner, ...(d.group ? { group: d.group } : {}), written: { cipherHash: d.cipherHash, intact: true } };
}

function describe(c: Change<DesiredSecretFile, ObservedSecret>): string {
  if (c.action === "delete") return `remove secret ${c.ref.name}`;
  const content = c.fields.find((f) => f.field === "content");
  if (!content) return `secret ${c.ref.name}: ${c.fields.map((f) => `${f.field} → ${String(f.to)}`).join(", ")}`;
  if (c.action === "create") return `write secret ${c.ref.name} (content hidden)`;
  return content.from === "edited on the host" ? `rewrite secret ${c.ref.name}, edited on the host (content hidden)` : `secret ${c.ref.name} changed (content hidden)`;
}

// Ciphertexts this process has seen decrypt with an identity: a drift check does not decrypt them again.
const verified = new Set<string>();

export const secretFile: Kind<DesiredSecretFile, ObservedSecret> = {
  kind: "secret.file",
  layer: "runtime",
  order: -1,
  manages: (host) => host.secrets !== undefined,
  desired: (host) => host.resources["secret.file"],
  plan: (desired, observed) => ({ changes: planSecrets(desired, observed.resources), findings: [] }),
  assumeConverged: (desired) => observedOf(new Map(desired.map((d) => [d.name, assumed(d)]))),
  owned: (a) => a.written !== undefined,
  describe,
  async connect(host, ctx) {
    const driver = new SecretDriver(ctx.runner, ctx.inventory, identityFileOf(ctx), host.secrets?.allowedRoots ?? []);
    await driver.verify(host.resources["secret.file"], verified);
    return {
      observe: async (desired) => observedOf(await driver.observe(desired)),
      apply: (changes) => driver.apply(changes),
    };
  },
};
