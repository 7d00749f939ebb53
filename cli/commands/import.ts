import { hostname } from "node:os";
import path from "node:path";
import { UserError } from "../../core/errors.js";
import { ExecaRunner } from "../../core/runner.js";
import { importHost, type ImportOptions } from "../../import/importer.js";
import { ExitCode, printFindings, type Output } from "../output.js";

export interface ImportCliOptions {
  out: string;
  host?: string;
  force?: boolean;
  dryRun?: boolean;
  npmDataDir?: string;
  npmContainer: string;
  npmNetwork: string;
  domains?: string;
  ufw: boolean;
  zone?: string;
  tokenEnv: string;
  composeProject?: string;
  units?: string;
  systemdScope: "system" | "user";
}

/** `tack import --out DIR`: the live host as a desired-state directory, every resource marked for adoption. */
export async function importCommand(opts: ImportCliOptions, o: Output): Promise<void> {
  const npm = opts.npmDataDir !== undefined || opts.domains !== undefined;
  if (!opts.ufw && !npm && !opts.zone && !opts.composeProject && !opts.units) {
    throw new UserError("nothing to import: give --domains (NPM), --zone, --compose-project or --units (or leave out --no-ufw)");
  }
  const host = opts.host ?? hostname();
  const options: ImportOptions = {
    out: path.resolve(opts.out),
    host,
    runner: new ExecaRunner(),
    ...(opts.force ? { force: true } : {}),
    ...(opts.dryRun ? { dryRun: true } : {}),
    ufw: opts.ufw,
    ...(npm
      ? {
          npm: {
            ...(opts.npmDataDir ? { dataDir: path.resolve(opts.npmDataDir) } : {}),
            container: opts.npmContainer,
            network: opts.npmNetwork,
            domains: (opts.domains ?? "*").split(",").map((d) => d.trim().toLowerCase()).filter(Boolean),
          },
        }
      : {}),
    ...(opts.zone ? { dns: { zone: opts.zone, tokenEnv: opts.tokenEnv } } : {}),
    ...(opts.composeProject ? { composeProject: opts.composeProject } : {}),
    ...(opts.units ? { units: { pattern: opts.units, scope: opts.systemdScope } } : {}),
  };
  const r = await importHost(options);
  if (opts.dryRun) {
    for (const f of r.files) {
      o.out(`--- ${f.path}`);
      o.out(f.text.trimEnd());
    }
    o.out(`--- (dry run: nothing written to ${r.dir})`);
  } else {
    o.out(`wrote ${r.dir}: ${r.files.map((f) => f.path).join(", ")}`);
  }
  for (const s of r.summary) o.out(`  ${s}`);
  if (r.attention.length) {
    o.out(`read the comments in tack.yaml about:`);
    for (const a of r.attention) o.out(`  - ${a}`);
  }
  if (r.findings.some((f) => f.severity === "error")) {
    o.err("the imported desired state does not validate (please report this):");
    printFindings(o, r.findings);
    throw new ExitCode(1);
  }
  if (!opts.dryRun) o.out(`next: tack plan ${path.relative(process.cwd(), r.dir) || "."} (only ownership should change), then commit it and open a pull request`);
}
