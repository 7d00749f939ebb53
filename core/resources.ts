import type { SourceLocation } from "./findings.js";

/**
 * The flat desired resources that resolution produces from a Host document (desired-state/resolve.ts)
 * and that the drivers converge. A field left `undefined` is not managed: the host keeps what it has
 * (design.md Decisions: only declared fields are managed).
 */

export type SystemdScope = "system" | "user";

export interface DesiredSystemdUnit {
  kind: "systemd.unit";
  /** Unit name, e.g. `islandflow-api.service`. */
  name: string;
  systemdScope: SystemdScope;
  /** The unit file from the repo; installed into the scope's unit directory when its content differs. */
  file: { path: string; content: string };
  /** `present: false` removes a unit tack installed (stop, disable, delete, daemon-reload). */
  present: boolean;
  enabled: boolean;
  active: boolean;
  /** The app scope this unit serves. */
  scope: string;
}

export interface DesiredComposeService {
  kind: "compose.service";
  /** `<project>/<service>`. */
  name: string;
  project: string;
  service: string;
  /** Absolute paths of the compose files, in order. */
  files: string[];
  /** Directory compose runs in (the repo checkout). */
  workingDir: string;
  env: Record<string, string>;
  /** running: `up -d --no-deps`; removed: `rm -s -f` (a retired owner must not come back with dockerd). */
  state: "running" | "removed";
  scope: string;
}

export interface DesiredProxyHost {
  kind: "npm.proxyHost";
  /** The first domain, sorted: NPM keeps domain_names sorted. */
  name: string;
  domains: string[];
  forwardScheme: "http" | "https";
  /** Native owner: the NPM bridge gateway IP (NPM resolves `$server` per request, so a hosts alias is never used). */
  forwardHost: string;
  forwardPort: number;
  enabled: boolean;
  websockets?: boolean;
  http2?: boolean;
  sslForced?: boolean;
  hsts?: boolean;
  hstsSubdomains?: boolean;
  blockExploits?: boolean;
  cachingEnabled?: boolean;
  certificateId?: number;
  accessListId?: number;
  advancedConfig?: string;
  /** Adopt a row made in NPM's UI for the same domains. */
  adopt: boolean;
  scope: string;
  /** Path probed through the edge after a switch, e.g. `/health`. */
  probePath: string;
}

export type UfwAction = "allow" | "deny" | "reject" | "limit";

export interface DesiredUfwRule {
  kind: "ufw.rule";
  /** Canonical spec, e.g. `allow in tcp 4000 from 172.18.0.0/16 to any`: the rule's identity. */
  name: string;
  action: UfwAction;
  direction: "in" | "out";
  proto: "tcp" | "udp" | "any";
  /** `4000`, `6000:6010`, or undefined for all ports. */
  port?: string;
  from: string;
  to: string;
  /** Full comment including the `tack:` ownership prefix. */
  comment: string;
  /** Adopt a same-spec rule tack does not own. */
  adopt: boolean;
  /** Derived from a native scope reached through NPM, not declared. */
  derived: boolean;
}

export interface DesiredDnsRecord {
  kind: "cloudflare.record";
  /** `<TYPE> <fqdn>`, e.g. `A api.flow.example.org`. */
  name: string;
  zone: string;
  type: string;
  fqdn: string;
  content: string;
  ttl?: number;
  proxied?: boolean;
  /** Full comment including the `tack:<host>` ownership marker. */
  comment: string;
  adopt: boolean;
  acknowledge: string[];
}

/**
 * A file on the host whose content comes from an age-encrypted file in the repo. Only the ciphertext is here: the
 * plaintext exists only inside the driver's apply, on its way to the target file.
 */
export interface DesiredSecretFile {
  kind: "secret.file";
  /** The target path on the host (absolute): the secret's identity. */
  name: string;
  /** Repo-relative path of the `.age` file. */
  source: string;
  /** The age file as committed (armored or binary), base64. */
  ciphertext: string;
  /** sha256 of the ciphertext bytes: what plans compare and show, never the plaintext. */
  cipherHash: string;
  /** File mode, e.g. 0o600. */
  mode: number;
  owner: string;
  group: string;
  /** The scope whose runtime reads this file: a changed secret restarts it. */
  scope?: string;
}

export type DesiredResource =
  | DesiredSystemdUnit
  | DesiredComposeService
  | DesiredProxyHost
  | DesiredUfwRule
  | DesiredDnsRecord
  | DesiredSecretFile;

export interface DesiredByKind {
  "systemd.unit": DesiredSystemdUnit[];
  "compose.service": DesiredComposeService[];
  "npm.proxyHost": DesiredProxyHost[];
  "ufw.rule": DesiredUfwRule[];
  "cloudflare.record": DesiredDnsRecord[];
  "secret.file": DesiredSecretFile[];
}

export type Owner = "native" | "docker" | "none";
export type Handoff = "exclusive" | "overlap";

/** How to tell a runtime of a scope is healthy. */
export type HealthCheck =
  | { type: "http"; url: string; timeoutMs: number; intervalMs: number; expectStatus?: number }
  | { type: "command"; command: string[]; timeoutMs: number; intervalMs: number }
  | { type: "state"; timeoutMs: number; intervalMs: number };

export interface ResolvedRuntime {
  /** systemd unit names (native) or `<project>/<service>` names (docker). */
  resources: string[];
  port?: number;
  health: HealthCheck;
}

export interface ResolvedScope {
  name: string;
  owner: Owner;
  handoff: Handoff;
  after: string[];
  native?: ResolvedRuntime & { systemdScope: SystemdScope };
  docker?: ResolvedRuntime & { upstream?: string };
}

/** Facts only the live host knows. Offline and PR plans leave them undefined and render symbols. */
export interface HostFacts {
  hostname?: string;
  npmBridgeGateway?: string;
  npmBridgeSubnet?: string;
  sshPort?: number;
}

export const SYMBOLIC_BRIDGE_GATEWAY = "<npm-bridge gateway>";
export const SYMBOLIC_BRIDGE_SUBNET = "<npm-bridge subnet>";

export interface Policy {
  mode: "enforce" | "observe";
  /** Per-layer override of the mode. */
  layers: Partial<Record<"runtime" | "edge" | "firewall" | "dns", "enforce" | "observe">>;
  maxChangePercent: number;
  allowLargeChanges: boolean;
  /** Allow a plan with no SSH allow rule while incoming is denied. */
  allowSshLockout: boolean;
  /** Per layer: remove what tack created and the desired state no longer names (false: report it only). */
  prune: Record<"runtime" | "edge" | "firewall" | "dns", boolean>;
  /** Drift re-observation intervals, ms. */
  driftIntervalMs: { local: number; dns: number };
}

export interface ResolvedHost {
  host: string;
  /** Absolute path of the repo root the Host came from. */
  repoRoot: string;
  scopes: ResolvedScope[];
  resources: DesiredByKind;
  npm?: { dataDir: string; container: string; network: string };
  cloudflare?: { zone: string; token: SecretRef; baseUrl?: string };
  ufw?: { deriveEdgeRules: boolean };
  /** The `secrets` section: who the repo's secrets are encrypted to, and where their targets may go. */
  secrets?: { recipients: string[]; allowedRoots: string[] };
  /** runtimes.native.systemd.user: whose manager runs the user-scope units when tack runs as root. */
  systemdUser?: string;
  policy: Policy;
  /** The live facts resolution used (empty offline). */
  facts: HostFacts;
  /** Ports the compose files publish on the host, per service (Docker's published ports bypass UFW). */
  publishedPorts: PublishedPort[];
  /** file:line:column of a field path (`scopes.api.owner`) in the desired state, so plan findings can point at it. */
  locate?: (path: string) => SourceLocation;
}

export interface PublishedPort {
  service: string;
  /** Empty when the compose file gives no address: Docker then binds every interface. */
  hostIp: string;
  hostPort: string;
  containerPort: string;
}

/**
 * A token reference. `{ file }` may name the target of a `secrets:` entry: resolution then adds that secret's
 * ciphertext (`age`), so the token is decrypted from the repo even before the target file was first written.
 */
export type SecretRef = { env: string } | { file: string; age?: { source: string; ciphertext: string } };
