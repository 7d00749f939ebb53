import type { ResourceKind } from "./refs.js";

/** Which policy layer a kind belongs to (policy.layers, blast radius, metrics). */
export type Layer = "runtime" | "edge" | "firewall" | "dns";

export const LAYER_OF: Record<ResourceKind, Layer> = {
  "systemd.unit": "runtime",
  "compose.service": "runtime",
  "npm.proxyHost": "edge",
  "ufw.rule": "firewall",
  "cloudflare.record": "dns",
};
