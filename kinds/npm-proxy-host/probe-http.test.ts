import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { requestThroughPort } from "./probe-http.js";

/** Real sockets on loopback: what the probe sends is what a server sees (Host, User-Agent, SNI). */
const seen: { host?: string; agent?: string; sni?: string | false; path?: string }[] = [];
const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
  const sni = (req.socket as { servername?: string | false }).servername;
  seen.push({ host: req.headers.host, agent: req.headers["user-agent"], path: req.url, ...(sni !== undefined ? { sni } : {}) });
  if (req.url === "/force-ssl") res.writeHead(301, { Location: `https://${req.headers.host}/force-ssl` }).end();
  else if (req.url === "/hang") return; // never answers
  else res.writeHead(200).end("ok");
};
const plain = http.createServer(handler);
const dir = mkdtempSync(join(tmpdir(), "tack-probe-http-"));
execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=npm", "-days", "1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")], { stdio: "ignore" });
const tls = https.createServer({ key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) }, handler);
const listen = (s: http.Server) => new Promise<number>((res) => s.listen(0, "127.0.0.1", () => res((s.address() as AddressInfo).port)));
const ports = Promise.all([listen(plain), listen(tls)]);
afterAll(() => {
  plain.closeAllConnections();
  tls.closeAllConnections();
  plain.close();
  tls.close();
});

const base = { domain: "api.flow.example.org", agent: "tack-probe/abc", timeoutMs: 2000 };

describe("requestThroughPort", () => {
  it("sends the host's name as Host and returns the status", async () => {
    const [port] = await ports;
    expect(await requestThroughPort({ ...base, path: "/health", to: { address: "127.0.0.1", port }, tls: false })).toBe(200);
    expect(seen.at(-1)).toMatchObject({ host: "api.flow.example.org", agent: "tack-probe/abc", path: "/health" });
  });

  it("does not follow a redirect to https: the 301 is the answer", async () => {
    const [port] = await ports;
    const before = seen.length;
    expect(await requestThroughPort({ ...base, path: "/force-ssl", to: { address: "127.0.0.1", port }, tls: false })).toBe(301);
    expect(seen.length).toBe(before + 1);
  });

  it("over TLS sends the name as SNI too, and accepts a certificate it cannot verify", async () => {
    const [, port] = await ports;
    expect(await requestThroughPort({ ...base, path: "/health", to: { address: "127.0.0.1", port }, tls: true })).toBe(200);
    expect(seen.at(-1)).toMatchObject({ host: "api.flow.example.org", sni: "api.flow.example.org" });
  });

  it("rejects when nothing answers: refused, or no answer before the timeout", async () => {
    const [port] = await ports;
    const closed = http.createServer();
    const free = await listen(closed);
    closed.close();
    await expect(requestThroughPort({ ...base, path: "/", to: { address: "127.0.0.1", port: free }, tls: false })).rejects.toThrow(/ECONNREFUSED/);
    await expect(requestThroughPort({ ...base, path: "/hang", timeoutMs: 300, to: { address: "127.0.0.1", port }, tls: false })).rejects.toThrow("no answer within 300 ms");
  });
});
