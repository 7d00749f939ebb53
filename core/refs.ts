/** Resource identity: a kind (dotted noun) and a name unique within that kind on one host. */

export const RESOURCE_KINDS = [
  "systemd.unit",
  "compose.service",
  "npm.proxyHost",
  "ufw.rule",
  "cloudflare.record",
  "secret.file",
] as const;

export type ResourceKind = (typeof RESOURCE_KINDS)[number];

export interface ResourceRef {
  kind: ResourceKind;
  name: string;
}

export function formatRef(ref: ResourceRef): string {
  return `${ref.kind} ${ref.name}`;
}
