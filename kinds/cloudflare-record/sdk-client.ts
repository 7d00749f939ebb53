import type { ClientOptions } from "cloudflare";
import { BaseRecords } from "cloudflare/resources/dns/records";
import { BaseZones } from "cloudflare/resources/zones/zones";
import { createClient } from "cloudflare/tree-shakable";

/**
 * The part of the official Cloudflare SDK tack uses: DNS records and the zone lookup, through the SDK's own
 * `createClient` with only those resources, and its error classes.
 *
 * Why a module of its own: the SDK's entry point loads all of its ~1,200 modules (every API of Cloudflare),
 * about 0.6 s and 50 MB on this kind of machine, in every process that plans. The package build
 * (scripts/build.mjs) bundles this file with esbuild, which keeps only what these resources reach; the driver
 * imports it when it first talks to Cloudflare. From source (tests, tsx) it is the same SDK code, unbundled.
 */
export { APIConnectionError, APIError } from "cloudflare/core/error";
export type { RecordBatchParams } from "cloudflare/resources/dns/records";

export function createDnsClient(options: ClientOptions) {
  return createClient({ ...options, resources: [BaseRecords, BaseZones] });
}

export type DnsClient = ReturnType<typeof createDnsClient>;
