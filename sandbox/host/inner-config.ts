import type { CgroupHierarchy } from "./cgroups.js";
import type { Part, SandboxCompose, SandboxSystemdScope } from "./parts.js";

/** What the launcher hands to the process that sets the host up inside the namespaces (env var, JSON). */
export interface InnerConfig {
  dir: string;
  parts: Part[];
  compose: SandboxCompose;
  systemdScope: SandboxSystemdScope;
  cgroups: CgroupHierarchy[];
  command: string[];
  cwd: string;
}

export const INNER_CONFIG_VAR = "TACK_SANDBOX_INNER_CONFIG";
