/** The parts a sandbox host can start; `npm` needs `docker`. */
export const ALL_PARTS = ["ufw", "systemd", "docker", "npm"] as const;
export type Part = (typeof ALL_PARTS)[number];

export function isPart(s: string): s is Part {
  return (ALL_PARTS as readonly string[]).includes(s);
}

export interface LauncherArgs {
  parts: Part[];
  command: string[];
}

/** Parses `[--parts a,b] -- CMD ARGS...`; throws with a usage line on anything else. */
export function parseLauncherArgs(argv: string[]): LauncherArgs {
  const usage = "usage: run-in-sandbox.ts [--parts ufw,systemd,docker,npm] -- CMD [ARGS...]";
  let parts: Part[] = [...ALL_PARTS];
  let i = 0;
  for (; i < argv.length && argv[i] !== "--"; i++) {
    const a = argv[i] ?? "";
    const value = a.startsWith("--parts=") ? a.slice("--parts=".length) : a === "--parts" ? argv[++i] : undefined;
    if (value === undefined) throw new Error(`unknown argument ${JSON.stringify(a)}\n${usage}`);
    const names = value.split(",").map((s) => s.trim()).filter(Boolean);
    const bad = names.filter((n) => !isPart(n));
    if (bad.length > 0) throw new Error(`unknown part(s) ${bad.join(", ")}\n${usage}`);
    parts = names as Part[];
  }
  const command = argv.slice(i + 1);
  if (i >= argv.length || command.length === 0) throw new Error(`no command given\n${usage}`);
  if (parts.includes("npm") && !parts.includes("docker")) parts.push("docker");
  // Start order: the firewall first (docker adds its chains after ufw's), then the daemons.
  return { parts: ALL_PARTS.filter((p) => parts.includes(p)), command };
}
