import { HostError } from "../../core/errors.js";
import type { Runner } from "../../core/runner.js";

/**
 * Which Compose runs a host's projects: v2 (`docker compose`, the Docker CLI plugin, Go) or v1
 * (`docker-compose`, Python, end of life since 2023, still what Debian 12 packages). tack prefers v2 when
 * both exist, as the reference host does. What differs between them and how tack copes, in one place:
 * - state is read with `docker ps` and one Go template per label (compose-driver.ts), never `compose ps`:
 *   v2's `ps --format json` is NDJSON (an array before 2.21, nothing at all with no containers) with
 *   `Publishers: null` for a service without ports, and v1 has no JSON at all;
 * - `docker ps` joins a container's labels into one string whose order varies between calls (v2 sets more
 *   labels, some with commas): the template asks for each label by name instead of splitting that string;
 * - container names are `project-service-N` in v2, `project_service_N` in v1: tack never derives or parses
 *   them, it selects by the project and service labels;
 * - `config --hash=a,b` prints `<service> <hash>` lines in both; v1's hash folds in the image ID, v2's does not;
 * - a top-level `version:` key is obsolete in v2 (a warning on stderr, not an error) and optional in v1 since
 *   1.27: the example and fixtures leave it out, and a user's file that has it still works under both.
 */
export type ComposeFlavor = "v2" | "v1";

export interface DetectedCompose {
  flavor: ComposeFlavor;
  /** `version --short` output, e.g. 2.26.1-4 or 1.29.2 */
  version: string;
}

/** `docker compose` when the plugin answers, else `docker-compose`; a clear error when neither works. */
export async function detectCompose(runner: Runner): Promise<DetectedCompose> {
  try {
    const r = await runner.run("docker", ["compose", "version", "--short"], {});
    return { flavor: "v2", version: r.stdout.trim() };
  } catch (v2err) {
    try {
      const r = await runner.run("docker-compose", ["version", "--short"], {});
      return { flavor: "v1", version: r.stdout.trim() };
    } catch (v1err) {
      throw new HostError(
        `neither "docker compose" nor "docker-compose" works on this host: ${(v2err as Error).message.split("\n")[0]}; ${(v1err as Error).message.split("\n")[0]}`,
      );
    }
  }
}

/** The argv that runs compose of a flavor: `docker compose ARGS` or `docker-compose ARGS`. */
export function composeCommand(flavor: ComposeFlavor, args: string[]): [string, string[]] {
  return flavor === "v2" ? ["docker", ["compose", ...args]] : ["docker-compose", args];
}
