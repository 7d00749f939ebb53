/** The parts a sandbox host can start; `npm` needs `docker`. */
export const ALL_PARTS = ["ufw", "systemd", "docker", "npm"] as const;
export type Part = (typeof ALL_PARTS)[number];

/** Which Compose the sandbox offers: v2 (`docker compose`, as on the reference host) or v1 (`docker-compose`). */
export type SandboxCompose = "v1" | "v2";
/** user: a `systemd --user` manager only; system: also a system manager booted with systemd-nspawn. */
export type SandboxSystemdScope = "user" | "system";

/** Environment variables that choose the variant when no flag does (test/run-all.ts sets them per run). */
export const COMPOSE_VAR = "TACK_SANDBOX_COMPOSE_FLAVOR";
export const SCOPE_VAR = "TACK_SANDBOX_SYSTEMD_SCOPE";

export function isPart(s: string): s is Part {
  return (ALL_PARTS as readonly string[]).includes(s);
}

export interface LauncherArgs {
  parts: Part[];
  command: string[];
  compose: SandboxCompose;
  systemdScope: SandboxSystemdScope;
}

const USAGE = "usage: run-in-sandbox.ts [--parts ufw,systemd,docker,npm] [--compose v1|v2] [--systemd-scope user|system] -- CMD [ARGS...]";

function oneOf<T extends string>(what: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new Error(`${what} must be ${allowed.join(" or ")}, not ${JSON.stringify(value)}\n${USAGE}`);
}

/**
 * Parses `[--parts a,b] [--compose v1|v2] [--systemd-scope user|system] -- CMD ARGS...`; throws with a usage
 * line on anything else. The variant defaults come from $TACK_SANDBOX_COMPOSE_FLAVOR and $TACK_SANDBOX_SYSTEMD_SCOPE.
 */
export function parseLauncherArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): LauncherArgs {
  let parts: Part[] = [...ALL_PARTS];
  let compose = oneOf(`$${COMPOSE_VAR}`, env[COMPOSE_VAR] || "v2", ["v1", "v2"] as const);
  let systemdScope = oneOf(`$${SCOPE_VAR}`, env[SCOPE_VAR] || "user", ["user", "system"] as const);
  let i = 0;
  for (; i < argv.length && argv[i] !== "--"; i++) {
    const a = argv[i] ?? "";
    const [flag, inline] = a.startsWith("--") && a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    if (!["--parts", "--compose", "--systemd-scope"].includes(flag)) throw new Error(`unknown argument ${JSON.stringify(a)}\n${USAGE}`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
    if (flag === "--compose") compose = oneOf("--compose", value, ["v1", "v2"] as const);
    else if (flag === "--systemd-scope") systemdScope = oneOf("--systemd-scope", value, ["user", "system"] as const);
    else {
      const names = value.split(",").map((s) => s.trim()).filter(Boolean);
      const bad = names.filter((n) => !isPart(n));
      if (bad.length > 0) throw new Error(`unknown part(s) ${bad.join(", ")}\n${USAGE}`);
      parts = names as Part[];
    }
  }
  const command = argv.slice(i + 1);
  if (i >= argv.length || command.length === 0) throw new Error(`no command given\n${USAGE}`);
  if (parts.includes("npm") && !parts.includes("docker")) parts.push("docker");
  // Start order: the firewall first (docker adds its chains after ufw's), then the daemons.
  return { parts: ALL_PARTS.filter((p) => parts.includes(p)), command, compose, systemdScope };
}
