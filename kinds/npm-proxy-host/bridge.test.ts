import { describe, expect, it } from "vitest";
import { parseIpamConfig } from "./bridge.js";

describe("parseIpamConfig", () => {
  it("takes the IPv4 subnet and gateway, skipping an IPv6 entry", () => {
    const json = JSON.stringify([
      { Subnet: "fd00:1::/64", Gateway: "fd00:1::1" },
      { Subnet: "172.18.0.0/16", Gateway: "172.18.0.1" },
    ]);
    expect(parseIpamConfig("npm_default", json)).toEqual({ gateway: "172.18.0.1", subnet: "172.18.0.0/16" });
  });

  it("fails clearly when the network has no gateway", () => {
    expect(() => parseIpamConfig("npm_default", "[]\n")).toThrow(/npm_default has no IPv4 subnet/);
    expect(() => parseIpamConfig("npm_default", "null")).toThrow(/no IPv4 subnet/);
    expect(() => parseIpamConfig("npm_default", "Error")).toThrow(/unreadable/);
  });
});
