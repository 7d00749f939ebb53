import { CommandError, HostError, TransientError } from "./errors.js";

/** dockerd down or its socket missing: worth retrying (it restarts). */
export const DOCKER_UNREACHABLE = /Cannot connect to the Docker daemon|Couldn't connect to Docker daemon|Is the docker daemon running|error during connect|connection refused/i;
const NO_SUCH = /No such (object|container|network)|not found/i;

/**
 * A failed `docker` command about something the host should have (NPM's container, its network): an unreachable
 * daemon is transient; a missing object is the host's problem (the agent stalls with the reason), never the commit's.
 */
export function dockerFailure(err: unknown, what: string): unknown {
  if (!(err instanceof CommandError)) return err;
  const text = `${err.stderr}\n${err.stdout}`;
  if (DOCKER_UNREACHABLE.test(text)) return new TransientError(`Docker is unreachable while reading ${what}: ${err.stderr.trim().split("\n").pop()}`, { cause: err });
  if (NO_SUCH.test(text)) return new HostError(`${what} does not exist on this host (${err.stderr.trim().split("\n").pop()})`, { cause: err });
  return err;
}
