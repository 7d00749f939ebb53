import path from "node:path";
import { UserError } from "../../core/errors.js";
import { checkHost, loadRepo, resolveHost } from "../../desired-state/index.js";
import type { Finding } from "../../core/findings.js";
import { ExitCode, printFindings, type Output } from "../output.js";
import { requireDirectory } from "../repo-dir.js";

export interface ValidateOptions {
  host?: string;
  format?: "text" | "json";
}

/** `tack validate [DIR]`: every Host of the repo (or the one named) is loaded, checked and resolved offline. */
export async function validateCommand(dir: string, options: ValidateOptions, o: Output): Promise<void> {
  const root = await requireDirectory(dir).catch((err: unknown) => {
    // A tool asked for JSON reads stdout: a path that is not a desired-state directory is an answer too.
    if (options.format === "json" && err instanceof UserError) {
      o.out(JSON.stringify({ valid: false, hosts: [], findings: [{ id: "repo-dir", severity: "error", message: err.message }] }, null, 2));
      throw new ExitCode(1);
    }
    throw err;
  });
  const repo = await loadRepo(root);
  const findings: Finding[] = [...repo.findings];
  const summaries: string[] = [];
  const hosts = options.host ? repo.hosts.filter((h) => h.doc.metadata.name === options.host) : repo.hosts;
  if (options.host && hosts.length === 0 && repo.findings.length === 0) {
    findings.push({ id: "fleet", severity: "error", message: `no Host named "${options.host}" (hosts: ${repo.hosts.map((h) => h.doc.metadata.name).join(", ")})` });
  }
  for (const h of hosts) {
    const checked = await checkHost(h, root);
    findings.push(...checked.findings);
    if (h.schemaFailed || checked.findings.some((f) => f.severity === "error")) continue;
    const r = resolveHost({ doc: h.doc, repoRoot: root, files: checked.files, facts: {} });
    summaries.push(
      `${r.host} (${h.file}): ${r.scopes.length} scopes, ${r.resources["systemd.unit"].length} units, ` +
        `${r.resources["compose.service"].length} compose services, ${r.resources["npm.proxyHost"].length} proxy hosts, ` +
        `${r.resources["ufw.rule"].length} firewall rules, ${r.resources["cloudflare.record"].length} DNS records`,
    );
  }
  const errors = findings.filter((f) => f.severity === "error");
  if (options.format === "json") {
    o.out(JSON.stringify({ valid: errors.length === 0, hosts: hosts.map((h) => h.doc.metadata.name), findings }, null, 2));
  } else {
    printFindings(o, findings);
    if (errors.length === 0) o.out(`valid: ${summaries.join("; ")}`);
    else o.err(`invalid: ${errors.length} error(s) in ${path.relative(process.cwd(), root) || "."}`);
  }
  if (errors.length) throw new ExitCode(1);
}
