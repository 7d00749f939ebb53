import { describe, expect, it } from "vitest";
import { TackError } from "../../core/errors.js";
import { parsePublishedPorts } from "./nginx-env.js";

describe("parsePublishedPorts (docker inspect .NetworkSettings.Ports)", () => {
  it("finds the host side of 80 and 443; a binding on all addresses is reached on loopback", () => {
    const json = JSON.stringify({
      "80/tcp": [{ HostIp: "0.0.0.0", HostPort: "8080" }, { HostIp: "::", HostPort: "8080" }],
      "443/tcp": [{ HostIp: "::", HostPort: "8443" }],
      "81/tcp": [{ HostIp: "0.0.0.0", HostPort: "81" }],
    });
    expect(parsePublishedPorts(json)).toEqual({ http: { address: "127.0.0.1", port: 8080 }, https: { address: "::1", port: 8443 } });
    expect(parsePublishedPorts(JSON.stringify({ "80/tcp": [{ HostIp: "192.0.2.7", HostPort: "80" }] }))).toEqual({ http: { address: "192.0.2.7", port: 80 } });
  });

  it("an exposed but unpublished port, or no ports at all, gives nothing", () => {
    expect(parsePublishedPorts(JSON.stringify({ "80/tcp": null, "443/tcp": [] }))).toEqual({});
    expect(parsePublishedPorts("{}\n")).toEqual({});
    expect(parsePublishedPorts("null")).toEqual({});
  });

  it("refuses what is not docker's JSON", () => {
    expect(() => parsePublishedPorts("map[80/tcp:[]]")).toThrow(TackError);
  });
});
