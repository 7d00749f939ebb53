import { describe, expect, it } from "vitest";
import { parseDefaults, parseRuleFiles, parseSshdPorts, parseTupleLine, positionKey } from "./parse-rules.js";

const hex = (s: string) => Buffer.from(s, "utf8").toString("hex");

const USER_RULES = `*filter
:ufw-user-input - [0:0]
### RULES ###

### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in
-A ufw-user-input -p tcp --dport 22 -j ACCEPT

### tuple ### allow tcp 4000 0.0.0.0/0 any 172.18.0.0/16 in comment=${hex("tack: npm bridge to native api")}
-A ufw-user-input -p tcp --dport 4000 -s 172.18.0.0/16 -j ACCEPT

### tuple ### limit tcp 2222 0.0.0.0/0 any 0.0.0.0/0 in comment=${hex("ssh – throttled ✓")}
### tuple ### deny udp 6000:6010 0.0.0.0/0 any 10.0.0.0/8 in
### tuple ### reject any any 192.0.2.7 any 0.0.0.0/0 out
### tuple ### allow_log tcp 80,443 0.0.0.0/0 any 0.0.0.0/0 in
### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 OpenSSH - in
### tuple ### allow any any 0.0.0.0/0 any 0.0.0.0/0 in_eth1
### tuple ### route:allow tcp 8080 0.0.0.0/0 any 0.0.0.0/0 in
### tuple ### bogus tcp 1 2 3 4 in
### tuple ### allow tcp
### END RULES ###
`;

const USER6_RULES = `### tuple ### allow tcp 22 ::/0 any ::/0 in
-A ufw6-user-input -p tcp --dport 22 -j ACCEPT
### tuple ### allow tcp 5432 ::/0 any 2001:db8::/32 in comment=${hex("tack: db from v6 lan")}
`;

describe("parseTupleLine", () => {
  it("reads action, proto, ports, addresses, direction and a hex comment", () => {
    expect(parseTupleLine(`### tuple ### allow tcp 4000 0.0.0.0/0 any 172.18.0.0/16 in comment=${hex("tack: x")}`, "v4")).toEqual({
      action: "allow",
      direction: "in",
      proto: "tcp",
      port: "4000",
      from: "172.18.0.0/16",
      to: "any",
      comment: "tack: x",
      v4: true,
      v6: false,
    });
  });
  it("reads limit/deny/reject, ranges, out, log types, apps, interfaces and route rules", () => {
    const rules = USER_RULES.split("\n").map((l) => parseTupleLine(l, "v4")).filter((r) => r !== undefined);
    expect(rules.map((r) => positionKey(r))).toEqual([
      "in tcp 22 from any to any",
      "in tcp 4000 from 172.18.0.0/16 to any",
      "in tcp 2222 from any to any",
      "in udp 6000:6010 from 10.0.0.0/8 to any",
      "out any any from any to 192.0.2.7",
      "in tcp 80,443 from any to any",
      "in tcp 22 from any to any app OpenSSH",
      "in any any from any to any on eth1",
      "in tcp 8080 from any to any route",
    ]);
    expect(rules.map((r) => r.action)).toEqual(["allow", "allow", "limit", "deny", "reject", "allow", "allow", "allow", "allow"]);
    expect(rules[2]!.comment).toBe("ssh – throttled ✓");
    expect(rules[4]).toMatchObject({ direction: "out", proto: "any" });
    expect(rules[4]!.port).toBeUndefined();
    expect(rules[5]!.log).toBe("log");
  });
  it("ignores iptables lines and malformed tuples", () => {
    expect(parseTupleLine("-A ufw-user-input -p tcp --dport 22 -j ACCEPT", "v4")).toBeUndefined();
    expect(parseTupleLine("### tuple ### allow tcp", "v4")).toBeUndefined();
  });
});

describe("parseRuleFiles", () => {
  it("merges a rule present in both files and keeps v6-only rules apart", () => {
    const rules = parseRuleFiles(USER_RULES, USER6_RULES);
    const ssh = rules.find((r) => positionKey(r) === "in tcp 22 from any to any");
    expect(ssh).toMatchObject({ v4: true, v6: true });
    expect(rules.find((r) => r.port === "4000")).toMatchObject({ v4: true, v6: false });
    expect(rules.find((r) => r.port === "5432")).toMatchObject({ from: "2001:db8::/32", v4: false, v6: true, comment: "tack: db from v6 lan" });
    expect(rules).toHaveLength(10);
  });
});

describe("status, defaults and sshd", () => {
  it("reads /etc/default/ufw and sshd ports", () => {
    expect(parseDefaults('IPV6=yes\nDEFAULT_INPUT_POLICY="DROP"\nDEFAULT_OUTPUT_POLICY="ACCEPT"\n')).toEqual({ incoming: "deny", ipv6: true });
    expect(parseDefaults('IPV6=no\nDEFAULT_INPUT_POLICY="ACCEPT"\n')).toEqual({ incoming: "allow", ipv6: false });
    expect(parseSshdPorts("port 2222\naddressfamily any\n")).toEqual([2222]);
    expect(parseSshdPorts("# Port 22\nPort 22\nPort 2200\n")).toEqual([22, 2200]);
    expect(parseSshdPorts("#Port 2222\n")).toEqual([22]);
  });
});
