import { describe, expect, it } from "vitest";
import type { ObservedDnsRecord } from "../kinds/cloudflare-record/record-plan.js";
import type { UfwRule } from "../kinds/ufw-rule/parse-rules.js";
import { dnsRecordEntry, ufwRuleEntry } from "./map-resources.js";

const rule = (over: Partial<UfwRule>): UfwRule => ({ action: "allow", direction: "in", proto: "tcp", port: "22", from: "any", to: "any", comment: "", v4: true, v6: true, ...over });
const record = (over: Partial<ObservedDnsRecord>): ObservedDnsRecord => ({ id: "r1", type: "A", name: "a.example.org", content: "203.0.113.10", ttl: 1, proxied: true, comment: null, ...over });

describe("UFW rules as tack declares them", () => {
  it("declares hand-made rules for adoption, the bridge subnet by name, comments cleaned of what ufw's command line cannot carry", () => {
    expect(ufwRuleEntry(rule({}), undefined)).toEqual({ drafted: { entry: { allow: "tcp", port: 22, adopt: true }, notes: [] } });
    expect(ufwRuleEntry(rule({ port: "4000", from: "172.18.0.0/16", comment: "npm to api" }), "172.18.0.0/16")).toEqual({
      drafted: { entry: { allow: "tcp", port: 4000, from: "npm-bridge", comment: "npm to api", adopt: true }, notes: [] },
    });
    const quoted = ufwRuleEntry(rule({ action: "deny", proto: "udp", port: "6000:6010", direction: "out", comment: 'the "old" $range' }), undefined);
    expect(quoted).toEqual({
      drafted: { entry: { deny: "udp", port: "6000:6010", direction: "out", comment: "the old range", adopt: true }, notes: ['comment was "the "old" $range" (characters UFW\'s command line cannot carry removed)'] },
    });
  });

  it("a rule tack already owns keeps its comment without the marker and is not adopted", () => {
    expect(ufwRuleEntry(rule({ comment: "tack: ssh" }), undefined)).toEqual({ drafted: { entry: { allow: "tcp", port: 22, comment: "ssh" }, notes: [] } });
  });

  it("skips what the format cannot express, with the reason", () => {
    const reasons = [rule({ interface: "eth0" }), rule({ port: "80,443" }), rule({ app: "OpenSSH" }), rule({ proto: "esp" })].map((r) => {
      const m = ufwRuleEntry(r, undefined);
      return "skipped" in m ? m.skipped.reason : "declared";
    });
    expect(reasons).toEqual([
      "uses an interface, which tack's rule format does not express",
      "port list 80,443: tack declares one port or one range per rule",
      "uses an application profile, which tack's rule format does not express",
      "protocol esp is not one of tcp, udp, any",
    ]);
    const owned = ufwRuleEntry(rule({ interface: "eth0", comment: "tack: lan" }), undefined);
    expect("skipped" in owned && owned.skipped.reason).toBe("uses an interface, which tack's rule format does not express; it carries tack's marker, so the first apply would delete it (change its comment by hand first)");
  });
});

describe("DNS records as tack declares them", () => {
  it("proxied records without a ttl, DNS-only ones with theirs, comments kept", () => {
    expect(dnsRecordEntry(record({}), "vps-1")).toEqual({ drafted: { entry: { name: "a.example.org", type: "A", content: "203.0.113.10", proxied: true, adopt: true }, notes: [] } });
    expect(dnsRecordEntry(record({ proxied: false, ttl: 300, comment: "origin" }), "vps-1")).toEqual({
      drafted: { entry: { name: "a.example.org", type: "A", content: "203.0.113.10", proxied: false, ttl: 300, comment: "origin", adopt: true }, notes: [] },
    });
    expect(dnsRecordEntry(record({ type: "TXT", content: "v=spf1 -all", proxied: false, ttl: 3600 }), "vps-1")).toEqual({
      drafted: { entry: { name: "a.example.org", type: "TXT", content: "v=spf1 -all", ttl: 3600, adopt: true }, notes: [] },
    });
  });

  it("this host's records are declared without adopt; another host's are skipped", () => {
    expect(dnsRecordEntry(record({ comment: "tack:vps-1 edge" }), "vps-1")).toEqual({ drafted: { entry: { name: "a.example.org", type: "A", content: "203.0.113.10", proxied: true, comment: "edge" }, notes: [] } });
    const other = dnsRecordEntry(record({ comment: "tack:vps-2" }), "vps-1");
    expect("skipped" in other && other.skipped.reason).toBe("owned by host vps-2 (its comment starts with tack:vps-2)");
    const ptr = dnsRecordEntry(record({ type: "PTR" }), "vps-1");
    expect("skipped" in ptr && ptr.skipped.reason).toBe("type PTR is not one tack manages");
    const minePtr = dnsRecordEntry(record({ type: "PTR", comment: "tack:vps-1" }), "vps-1");
    expect("skipped" in minePtr && minePtr.skipped.reason).toBe("type PTR is not one tack manages; it carries this host's marker (tack:vps-1), so the first apply would delete it (change its comment by hand first)");
  });
});
