/**
 * Renders the imported desired state as tack.yaml with the `yaml` package's Document API, so every note reaches the
 * reviewer as a YAML comment beside the entry it is about, and what could not be placed is written as commented-out
 * YAML with the reason (issue 19: "written anyway, with a YAML comment saying why"). Pure.
 */
import { Document, isMap, stringify, type Node, type YAMLMap, type YAMLSeq } from "yaml";
import type { InferredScope } from "./infer-scopes.js";

/** One entry with the notes a reviewer should read above it. */
export interface Drafted {
  entry: Record<string, unknown>;
  notes: string[];
}

/** Something read on the host that the desired state cannot hold: the would-be entry and why not. */
export interface Skipped {
  entry: Record<string, unknown>;
  reason: string;
}

export interface DesiredDraft {
  host: string;
  header: string[];
  systemd?: { scope: "system" | "user"; user?: string };
  compose?: { project: string; files: string[]; notes: string[] };
  scopes: InferredScope[];
  skippedRuntimes: Skipped[];
  npm?: { dataDir: string; container: string; network: string; proxyHosts: Drafted[]; skipped: Skipped[] };
  ufw?: { rules: Drafted[]; skipped: Skipped[]; notes: string[] };
  dns?: { zone: string; tokenEnv: string; records: Drafted[]; skipped: Skipped[] };
}

function flowLine(entry: Record<string, unknown>): string {
  return stringify(entry, { flow: true, lineWidth: 0 }).trim();
}

function skippedComment(title: string, skipped: Skipped[]): string | undefined {
  if (skipped.length === 0) return undefined;
  return [` ${title}:`, ...skipped.flatMap((s) => [`   ${s.reason}`, `   - ${flowLine(s.entry)}`])].join("\n");
}

function scopeEntry(s: InferredScope): Record<string, unknown> {
  return {
    owner: s.owner,
    ...(s.native ? { native: { units: s.native.units, ...(s.native.port !== undefined ? { port: s.native.port } : {}) } } : {}),
    ...(s.docker
      ? { docker: { services: s.docker.services, ...(s.docker.upstream !== undefined ? { upstream: s.docker.upstream } : {}), ...(s.docker.port !== undefined ? { port: s.docker.port } : {}) } }
      : {}),
  };
}

/** Block sequence of flow maps (one line per rule, record or proxy host), each with its notes above it. */
function listNode(doc: Document, items: Drafted[], skipped: string | undefined): YAMLSeq {
  const seq = doc.createNode(items.map((d) => d.entry)) as YAMLSeq;
  seq.items.forEach((node, i) => {
    // A multi-line value (advanced config) reads better as a block scalar than as one escaped flow line.
    if (isMap(node)) node.flow = !Object.values(items[i]!.entry).some((v) => typeof v === "string" && v.includes("\n"));
    const notes = items[i]!.notes;
    if (notes.length) (node as Node).commentBefore = notes.map((n) => ` ${n}`).join("\n");
  });
  if (skipped) seq.comment = skipped;
  return seq;
}

/**
 * The tack.yaml text. Over 80 lines on purpose: it lays the document out in the format reference's order (runtimes,
 * scopes, edge, firewall, dns), one block per section, which reads best as one function.
 */
export function renderDesired(d: DesiredDraft): string {
  const doc = new Document({ apiVersion: "tack/v1", kind: "Host", metadata: { name: d.host } });
  doc.commentBefore = d.header.map((l) => ` ${l}`).join("\n");
  const root = doc.contents as YAMLMap;

  const runtimes: Record<string, unknown> = {};
  if (d.systemd) runtimes.native = { systemd: { scope: d.systemd.scope, ...(d.systemd.user ? { user: d.systemd.user } : {}) } };
  if (d.compose) runtimes.docker = { compose: { project: d.compose.project, files: d.compose.files } };
  if (Object.keys(runtimes).length) {
    root.set("runtimes", doc.createNode(runtimes));
    if (d.compose?.notes.length) {
      const compose = doc.getIn(["runtimes", "docker", "compose"], true) as Node;
      compose.commentBefore = d.compose.notes.map((n) => ` ${n}`).join("\n");
    }
  }

  const scopes = doc.createNode(Object.fromEntries(d.scopes.map((s) => [s.name, scopeEntry(s)]))) as YAMLMap;
  for (const pair of scopes.items) for (const side of (pair.value as YAMLMap).items) if (isMap(side.value)) side.value.flow = true;
  for (const s of d.scopes) {
    const pair = scopes.items.find((p) => (p.key as { value?: unknown }).value === s.name);
    if (pair && s.notes.length) (pair.key as Node).commentBefore = s.notes.map((n) => ` ${n}`).join("\n");
  }
  const skippedRuntimes = skippedComment("not imported (runtimes)", d.skippedRuntimes);
  if (skippedRuntimes) scopes.comment = skippedRuntimes;
  root.set("scopes", scopes);

  if (d.npm) {
    const edge = doc.createNode({ npm: { dataDir: d.npm.dataDir, container: d.npm.container, network: d.npm.network } }) as YAMLMap;
    edge.set("proxyHosts", listNode(doc, d.npm.proxyHosts, skippedComment("not imported (NPM proxy hosts)", d.npm.skipped)));
    root.set("edge", edge);
  }

  if (d.ufw) {
    const ufw = doc.createNode({ deriveEdgeRules: false }) as YAMLMap;
    const derive = ufw.items[0]!;
    (derive.key as Node).commentBefore = " Imported rules are the host's own, in UFW's order: tack derives no rule of its own on top.";
    ufw.set("rules", listNode(doc, d.ufw.rules, skippedComment("not imported (UFW rules)", d.ufw.skipped)));
    if (d.ufw.notes.length) ufw.commentBefore = d.ufw.notes.map((n) => ` ${n}`).join("\n");
    root.set("firewall", doc.createNode({ ufw }));
  }

  if (d.dns) {
    const dns = doc.createNode({ cloudflare: { zone: d.dns.zone, token: { env: d.dns.tokenEnv } } }) as YAMLMap;
    const cf = dns.items[0]!.value as YAMLMap;
    const tokenPair = cf.items.find((p) => (p.key as { value?: unknown }).value === "token");
    if (tokenPair) (tokenPair.key as Node).commentBefore = ` The token stays in the agent's environment (${d.dns.tokenEnv}), never in the repo.`;
    dns.set("records", listNode(doc, d.dns.records, skippedComment("not imported (DNS records)", d.dns.skipped)));
    root.set("dns", dns);
  }
  if (d.scopes.length === 0) scopes.flow = true;
  return doc.toString({ lineWidth: 0 });
}
