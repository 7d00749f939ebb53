/**
 * NPM's Docker bridge as the host sees it: the gateway IP that native upstreams must use (NPM's
 * proxy_pass resolves `$server` per request, so an /etc/hosts alias like host.docker.internal is never
 * used) and the subnet that UFW must allow to reach native ports. The reconciler calls this for HostFacts.
 */
import { TackError } from "../../core/errors.js";
import type { Runner } from "../../core/runner.js";
import { dockerFailure } from "../../core/docker-errors.js";

export interface NpmBridge {
  gateway: string;
  subnet: string;
}

interface IpamConfig {
  Subnet?: string;
  Gateway?: string;
}

/** Picks the IPv4 entry of `docker network inspect --format '{{json .IPAM.Config}}'`. Pure. */
export function parseIpamConfig(network: string, json: string): NpmBridge {
  let configs: IpamConfig[] | null;
  try {
    configs = JSON.parse(json) as IpamConfig[] | null;
  } catch {
    throw new TackError(`docker network ${network}: unreadable IPAM config: ${json.trim().slice(0, 200)}`);
  }
  const v4 = (configs ?? []).find((c) => c.Subnet && !c.Subnet.includes(":") && c.Gateway);
  if (!v4?.Subnet || !v4.Gateway) throw new TackError(`docker network ${network} has no IPv4 subnet with a gateway`);
  return { gateway: v4.Gateway, subnet: v4.Subnet };
}

export async function readNpmBridge(runner: Runner, network: string): Promise<NpmBridge> {
  const { stdout } = await runner.run("docker", ["network", "inspect", network, "--format", "{{json .IPAM.Config}}"]).catch((err: unknown) => {
    throw dockerFailure(err, `NPM's Docker network ${network} (edge.npm.network)`);
  });
  return parseIpamConfig(network, stdout);
}
