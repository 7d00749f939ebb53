import { createHash } from "node:crypto";
import type { Change } from "../../core/changes.js";
import type { Finding } from "../../core/findings.js";
import { decryptAge, identityFileOf, readIdentity } from "../../core/age.js";
import { HostError } from "../../core/errors.js";
import { observedOf, type Kind, type LiveContext } from "../../core/kind.js";
import type { DesiredDnsRecord, ResolvedHost, SecretRef } from "../../core/resources.js";
import { defaultRetryBudgetMs } from "../../core/retry.js";
import { CloudflareDriver, resolveSecret } from "./cloudflare-driver.js";
import { ownedBy, planRecords, recordKey, type ObservedDnsRecord } from "./record-plan.js";

/** `cloudflare.record`: a DNS record of a Cloudflare zone, owned by the host named in its `tack:<host>` comment. */

/** What Cloudflare reports for a record that was applied as desired (a proxied record always has ttl 1). */
function assumedRecord(d: DesiredDnsRecord): ObservedDnsRecord {
  return { id: "", type: d.type, name: d.fqdn, content: d.content, ttl: d.proxied ? 1 : (d.ttl ?? 1), proxied: d.proxied ?? false, comment: d.comment };
}

function unmanagedFinding(unmanaged: ObservedDnsRecord[], zone: string): Finding[] {
  if (!unmanaged.length) return [];
  const names = unmanaged.slice(0, 5).map((r) => `${r.type} ${r.name}`);
  return [
    {
      id: "dns-unmanaged",
      severity: "info",
      message: `${unmanaged.length} record(s) in ${zone} have no tack marker and are left alone: ${names.join(", ")}${unmanaged.length > 5 ? ", ..." : ""}`,
    },
  ];
}

// One driver per (state dir, host, zone, token, API) for the life of the process: its zone id and its DNS
// observation are cached across reconciles, so an agent polls Cloudflare at the DNS interval (default 5 min), not
// at every local drift check. An apply invalidates its cache. The token's hash is in the key, so a rotated token
// gets a new driver; the token itself is kept nowhere here.
const drivers = new Map<string, CloudflareDriver>();

/**
 * The token named by `{ file }` that is a secret's target is decrypted from the repo's age file, so the first
 * converge does not wait for the file it is about to write; otherwise it is read from env or the file.
 */
async function tokenOf(ref: SecretRef, ctx: LiveContext): Promise<string> {
  if (!("file" in ref) || !ref.age) return resolveSecret(ref, ctx.env ?? process.env);
  const identity = await readIdentity(identityFileOf(ctx));
  const token = Buffer.from(await decryptAge(Buffer.from(ref.age.ciphertext, "base64"), ref.age.source, identity)).toString("utf8").trim();
  if (!token) throw new HostError(`Cloudflare token: ${ref.age.source} decrypts to an empty token`);
  return token;
}

function driverFor(host: ResolvedHost, stateDir: string, env: NodeJS.ProcessEnv | undefined, token: string): CloudflareDriver {
  const cf = host.cloudflare;
  if (!cf) throw new Error("cloudflare.record: the host declares no dns.cloudflare");
  const tokenHash = createHash("sha256").update(token).digest("hex");
  const key = JSON.stringify([stateDir, host.host, cf.zone, tokenHash, host.policy.driftIntervalMs.dns, env?.CLOUDFLARE_BASE_URL ?? process.env.CLOUDFLARE_BASE_URL]);
  let driver = drivers.get(key);
  if (!driver) {
    driver = new CloudflareDriver({
      host: host.host,
      zone: cf.zone,
      token: cf.token,
      tokenValue: token,
      driftIntervalMs: host.policy.driftIntervalMs.dns,
      retryBudgetMs: defaultRetryBudgetMs(env ?? process.env),
      ...(env ? { env } : {}),
    });
    drivers.set(key, driver);
  }
  return driver;
}

export const cloudflareRecord: Kind<DesiredDnsRecord, ObservedDnsRecord> = {
  kind: "cloudflare.record",
  layer: "dns",
  order: 4,
  manages: (host) => host.cloudflare !== undefined,
  desired: (host) => host.resources["cloudflare.record"],
  plan(desired, observed, host) {
    const p = planRecords(desired, observed.resources, host.host);
    return { changes: p.changes, findings: [...p.findings, ...unmanagedFinding(p.unmanaged, host.cloudflare?.zone ?? "the zone")] };
  },
  assumeConverged: (desired) => observedOf(new Map(desired.map((d) => [recordKey(d.type, d.fqdn), assumedRecord(d)]))),
  owned: (a, host) => ownedBy(a.comment, host.host),
  describe: (c: Change<DesiredDnsRecord, ObservedDnsRecord>) => `DNS ${c.action} ${c.ref.name}`,
  async connect(host, ctx) {
    const driver = driverFor(host, ctx.stateDir, ctx.env, await tokenOf(host.cloudflare!.token, ctx));
    return {
      observe: async (desired) => observedOf(await driver.observe(desired)),
      apply: (changes) => driver.apply(changes),
      invalidate: () => driver.invalidate(),
    };
  },
};
