import { rm } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../../cli/program.js";
import { edit, EXAMPLE, tempRepo } from "../helpers/temp-repo.js";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { o: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

describe("tack validate", () => {
  it("accepts the islandflow example with a one-line summary", async () => {
    const c = capture();
    expect(await runCli(["validate", EXAMPLE], c.o)).toBe(0);
    expect(c.out).toHaveLength(1);
    expect(c.out[0]).toMatch(/^valid: vps-1 \(tack\.yaml\): 4 scopes, 4 units, 4 compose services, 2 proxy hosts/);
    expect(c.err).toEqual([]);
  });

  it("reports all five mistakes with file:line and exits 1", async () => {
    const repo = await tempRepo();
    const y = path.join(repo, "tack.yaml");
    await edit(y, "  api:\n    owner: docker", "  api:\n    owner: natve"); // 1: enum typo
    await rm(path.join(repo, "units/islandflow-workers.service")); // 2: missing unit file
    await edit(y, "scope: api, websockets: true }", "scope: apii, websockets: true }"); // 3: proxy host naming no scope
    await edit(y, "native: { units: [islandflow-web.service], port: 3000 }", "native: { units: [islandflow-web.service], port: 4000 }"); // 4: two scopes on one port
    await edit(y, "- { name: flow.example.org,", "- { name: flow.example.com,"); // 5: record outside the zone
    const c = capture();
    expect(await runCli(["validate", repo], c.o)).toBe(1);
    const text = c.err.join("\n");
    expect(text).toMatch(/^tack\.yaml:\d+:\d+ scopes\.api\.owner: must be one of native, docker, none \(got "natve"\) — did you mean "native"\?$/m);
    expect(text).toMatch(/^tack\.yaml:\d+:\d+ scopes\.workers\.native\.units\[0\]: unit file missing or refused: file "units\/islandflow-workers\.service" does not exist in the repo$/m);
    expect(text).toMatch(/^tack\.yaml:\d+:\d+ edge\.proxyHosts\[1\]\.scope: names no scope "apii"/m);
    expect(text).toMatch(/^tack\.yaml:\d+:\d+ scopes\.web\.native\.port: port 4000 is claimed by scope "api" too$/m);
    expect(text).toMatch(/^tack\.yaml:\d+:\d+ dns\.records\[0\]\.name: flow\.example\.com is outside the zone example\.org$/m);
    expect(text).toMatch(/invalid: 5 error\(s\)/);
  });

  it("points at the right line and column", async () => {
    const repo = await tempRepo();
    await edit(path.join(repo, "tack.yaml"), "  api:\n    owner: docker", "  api:\n    owner: natve");
    const c = capture();
    await runCli(["validate", repo], c.o);
    const lines = (await import("node:fs")).readFileSync(path.join(repo, "tack.yaml"), "utf8").split("\n");
    const m = /^tack\.yaml:(\d+):(\d+) /.exec(c.err[0]!)!;
    expect(lines[Number(m[1]) - 1]!.slice(Number(m[2]) - 1)).toBe("natve");
  });

  // Values that used to pass validate and fail only on the host (issue 22, point 3): each is an error at its line.
  const hostOnly: [string, string, string, RegExp, string][] = [
    ["an A record that is not an IPv4 address", "content: 203.0.113.10, proxied: true", "content: 203.0.113.999, proxied: true", /dns\.records\[0\]\.content: an A record's content must be an IPv4 address .*\(got "203\.0\.113\.999"\)$/, "203.0.113.999"],
    ["an AAAA record with an IPv4 address", "type: A, content: 203.0.113.10, proxied: true", "type: AAAA, content: 203.0.113.10, proxied: true", /dns\.records\[0\]\.content: an AAAA record's content must be an IPv6 address/, "203.0.113.10"],
    ["a UFW source that is no address", "port: 4000, from: npm-bridge", "port: 4000, from: 10.0.0.300/33", /firewall\.ufw\.rules\[3\]\.from: must be any, npm-bridge, or an IPv4\/IPv6 address or CIDR .*\(got "10\.0\.0\.300\/33"\)$/, "10.0.0.300/33"],
    ["a UFW prefix too long", "port: 4000, from: npm-bridge", "port: 4000, from: 10.0.0.0/33", /firewall\.ufw\.rules\[3\]\.from: must be any, npm-bridge/, "10.0.0.0/33"],
    [
      "two records differing only in proxied",
      "    - { name: flow.example.org, type: A, content: 203.0.113.10, proxied: true }\n",
      "    - { name: flow.example.org, type: A, content: 203.0.113.10, proxied: true }\n    - { name: flow.example.org, type: A, content: 203.0.113.10, proxied: false }\n",
      /dns\.records\[1\]: A flow\.example\.org is declared twice \(also dns\.records\[0\], differing only in proxied\)/,
      "{ name: flow.example.org, type: A, content: 203.0.113.10, proxied: false }",
    ],
    [
      "a UFW rule declared twice",
      "      - { allow: tcp, port: 80, comment: http }\n",
      "      - { allow: tcp, port: 80, comment: http }\n      - { allow: tcp, port: 80, comment: web }\n",
      /firewall\.ufw\.rules\[2\]: declares the same rule as firewall\.ufw\.rules\[1\] \(allow in tcp 80 from any to any\)/,
      "{ allow: tcp, port: 80, comment: web }",
    ],
    ["a lowercase record type", "type: A, content: 203.0.113.10, proxied: true", "type: a, content: 203.0.113.10, proxied: true", /^tack\.yaml:\d+:\d+ dns\.records\[0\]\.type: must be one of A, AAAA, .* \(got "a"\) — did you mean "A"\?$/, "a, content"],
    ["a duration without a unit", "timeout: 60s }", "timeout: 30 }", /scopes\.api\.health\.timeout: must be a duration with a unit, such as "30s" \(got 30\)$/, "30 }"],
    [
      "an unknown key",
      "    handoff: exclusive                  # JetStream",
      "    hanoff: exclusive                  # JetStream",
      /scopes\.api\.hanoff: unknown key "hanoff" — did you mean "handoff"\? \(see README "Desired-state format reference", `scopes\.<name>`\)$/,
      "hanoff: exclusive",
    ],
  ];
  for (const [name, from, to, re, at] of hostOnly) {
    it(`refuses ${name}, with only that error, pointing at it`, async () => {
      const repo = await tempRepo();
      await edit(path.join(repo, "tack.yaml"), from, to);
      const c = capture();
      expect(await runCli(["validate", repo], c.o)).toBe(1);
      const errors = c.err.filter((l) => /^tack\.yaml:/.test(l));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(re);
      const m = /^tack\.yaml:(\d+):(\d+) /.exec(errors[0]!)!;
      const lines = (await import("node:fs")).readFileSync(path.join(repo, "tack.yaml"), "utf8").split("\n");
      expect(lines[Number(m[1]) - 1]!.slice(Number(m[2]) - 1).startsWith(at)).toBe(true);
    });
  }

  it("prints usage and exits 1 on an unknown command or flag; --help exits 0", async () => {
    let c = capture();
    expect(await runCli(["frobnicate"], c.o)).toBe(1);
    expect(c.err.join("\n")).toMatch(/unknown command 'frobnicate'[\s\S]*Usage: tack/);
    c = capture();
    expect(await runCli(["validate", "--bogus"], c.o)).toBe(1);
    expect(c.err.join("\n")).toMatch(/unknown option '--bogus'[\s\S]*Usage: tack validate/);
    c = capture();
    expect(await runCli(["validate", "--help"], c.o)).toBe(0);
    expect(c.out.join("\n")).toMatch(/Usage: tack validate/);
  });

  it("gives JSON for tools", async () => {
    const c = capture();
    expect(await runCli(["validate", EXAMPLE, "--format", "json"], c.o)).toBe(0);
    expect(JSON.parse(c.out.join("\n"))).toMatchObject({ valid: true, hosts: ["vps-1"], findings: [] });
  });

  it("gives JSON for a path that is not a desired-state directory, and exits 1", async () => {
    const c = capture();
    expect(await runCli(["validate", path.join(EXAMPLE, "no-such-dir"), "--format", "json"], c.o)).toBe(1);
    const doc = JSON.parse(c.out.join("\n")) as { valid: boolean; findings: { id: string; message: string }[] };
    expect(doc).toMatchObject({ valid: false, hosts: [] });
    expect(doc.findings[0]).toMatchObject({ id: "repo-dir", message: expect.stringMatching(/no-such-dir does not exist/) });
  });
});
