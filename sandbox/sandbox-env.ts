import { ALL_PARTS, type Part, type SandboxCompose, type SandboxSystemdScope } from "./host/parts.js";

/**
 * The sandbox host as tests see it: typed from the environment run-in-sandbox.ts exports. Throws (never
 * skips) when the test runs outside the sandbox or a part it needs was not started.
 */
export interface SandboxHost {
  dir: string;
  parts: Part[];
  /** unix://<dir>/docker.sock */
  dockerHost?: string;
  home?: string;
  xdgRuntimeDir?: string;
  /** "docker compose" or "docker-compose", split into argv: [file, ...args]. */
  compose?: string[];
  /** The Compose flavor this sandbox offers (v2 unless the run asked for v1), and its version. */
  composeFlavor?: SandboxCompose;
  composeVersion?: string;
  /** system: a real system manager (systemd-nspawn) answers `systemctl` without --user, beside the user manager. */
  systemdScope?: SandboxSystemdScope;
  busyboxImage?: string;
  npmImage?: string;
  npmData?: string;
  npmContainer?: string;
  npmNetwork?: string;
}

export const NOT_IN_SANDBOX =
  "this test needs the sandbox host (root, namespaces): run it through npm test, or node --import tsx sandbox/run-in-sandbox.ts -- ...";

export function sandbox(options: { parts?: Part[] } = {}, env: NodeJS.ProcessEnv = process.env): SandboxHost {
  const dir = env.TACK_SANDBOX_DIR;
  if (env.TACK_SANDBOX !== "1" || !dir) throw new Error(NOT_IN_SANDBOX);
  const parts = (env.TACK_SANDBOX_PARTS ?? "").split(",").filter((p): p is Part => (ALL_PARTS as readonly string[]).includes(p));
  const missing = (options.parts ?? []).filter((p) => !parts.includes(p));
  if (missing.length > 0) throw new Error(`${NOT_IN_SANDBOX} (missing part(s): ${missing.join(", ")}; started: ${parts.join(",") || "none"})`);
  return {
    dir,
    parts,
    dockerHost: env.DOCKER_HOST,
    home: parts.includes("systemd") ? env.HOME : undefined,
    xdgRuntimeDir: parts.includes("systemd") ? env.XDG_RUNTIME_DIR : undefined,
    compose: env.TACK_SANDBOX_COMPOSE?.split(" "),
    composeFlavor: env.TACK_SANDBOX_COMPOSE_FLAVOR === "v1" || env.TACK_SANDBOX_COMPOSE_FLAVOR === "v2" ? env.TACK_SANDBOX_COMPOSE_FLAVOR : undefined,
    composeVersion: env.TACK_SANDBOX_COMPOSE_VERSION,
    systemdScope: parts.includes("systemd") ? (env.TACK_SANDBOX_SYSTEMD_SCOPE === "system" ? "system" : "user") : undefined,
    busyboxImage: env.TACK_SANDBOX_BUSYBOX_IMAGE,
    npmImage: env.TACK_SANDBOX_NPM_IMAGE,
    npmData: env.TACK_SANDBOX_NPM_DATA,
    npmContainer: env.TACK_SANDBOX_NPM_CONTAINER,
    npmNetwork: env.TACK_SANDBOX_NPM_NETWORK,
  };
}
