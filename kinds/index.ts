import type { AnyKind, Layer } from "../core/kind.js";
import type { ResourceKind } from "../core/refs.js";
import { cloudflareRecord } from "./cloudflare-record/kind.js";
import { composeService } from "./compose-service/kind.js";
import { npmProxyHost } from "./npm-proxy-host/kind.js";
import { secretFile } from "./secret-file/kind.js";
import { systemdUnit } from "./systemd-unit/kind.js";
import { ufwRule } from "./ufw-rule/kind.js";

/**
 * The table of kinds: the one place they are registered. The engine, the run, the reports and the agent iterate
 * over it and never name a kind. A new kind is a folder with a kind.ts (core/kind.ts's contract) and a line here.
 */
const TABLE = {
  "systemd.unit": systemdUnit,
  "compose.service": composeService,
  "npm.proxyHost": npmProxyHost,
  "ufw.rule": ufwRule,
  "cloudflare.record": cloudflareRecord,
  "secret.file": secretFile,
} satisfies Record<ResourceKind, AnyKind>;

/** Every kind, in the order they are planned and reported. */
export const KINDS: readonly AnyKind[] = Object.values(TABLE);

export function kindOf(kind: ResourceKind): AnyKind {
  return TABLE[kind];
}

export function layerOf(kind: ResourceKind): Layer {
  return TABLE[kind].layer;
}

/** The runtime kinds: the native owner's and the docker owner's. */
export function runtimeKind(owner: "native" | "docker"): AnyKind {
  const k = KINDS.find((x) => x.runtime?.owner === owner);
  if (!k) throw new Error(`no runtime kind for owner ${owner}`);
  return k;
}
