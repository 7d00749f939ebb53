/**
 * Secrets never leave the host through `tack import` (issue 19): the files it copies into the desired-state
 * directory (compose files, unit files) lose the values of environment variables whose names say "secret"
 * (core/text.ts's SECRET_NAME, the same rule plans mask with). Pure: text in, text and what was removed out.
 *
 * - Compose: `KEY: value` / `- KEY=value` under a service's `environment` become `${KEY}`, so Compose takes the
 *   value from the environment it runs in (the agent's, e.g. /etc/tack/env); with the same value there, the service's
 *   config hash is unchanged and nothing is recreated. The YAML is edited as a document, so comments survive.
 * - systemd: `Environment=KEY=value` keeps its key with a placeholder value, and a comment line above it says what to
 *   do. systemd interpolates nothing, so the unit file differs from the host's: the plan shows it (a restart).
 */
import { isMap, isPair, isScalar, isSeq, parseDocument, type Document, type Pair, type Scalar } from "yaml";
import { SECRET_NAME } from "../core/text.js";

export const PLACEHOLDER = "REDACTED-BY-TACK-IMPORT";

export interface Redacted {
  text: string;
  /** Names of the variables whose values were removed. */
  removed: string[];
}

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

const NOTE = (name: string, where = "set it in the agent's environment (/etc/tack/env)") =>
  ` tack import: the value of ${name} was removed (a secret); ${where}`;

/** Compose file text → the same file with every secret-named environment value replaced by `${NAME}`. */
export function redactCompose(text: string): Redacted {
  const doc = parseDocument(text, { keepSourceTokens: false });
  if (doc.errors.length) return { text, removed: [] }; // not ours to judge: `tack validate` reports it
  const removed: string[] = [];
  const services = doc.get("services");
  if (!isMap(services)) return { text, removed };
  for (const item of services.items) {
    const env = isMap(item.value) ? item.value.get("environment", true) : undefined;
    if (isMap(env)) {
      for (const pair of env.items as Pair<Scalar, Scalar>[]) redactPair(doc, pair, removed);
    } else if (isSeq(env)) {
      for (const entry of env.items) {
        if (!isScalar(entry) || typeof entry.value !== "string") continue;
        const eq = entry.value.indexOf("=");
        if (eq <= 0) continue; // `- NAME` alone already comes from the environment
        const name = entry.value.slice(0, eq);
        if (!isSecretName(name) || entry.value.slice(eq + 1) === `\${${name}}`) continue;
        entry.value = `${name}=\${${name}}`;
        entry.commentBefore = NOTE(name);
        removed.push(name);
      }
    }
  }
  return { text: removed.length ? doc.toString() : text, removed };
}

function redactPair(doc: Document, pair: Pair<Scalar, Scalar>, removed: string[]): void {
  const name = isScalar(pair.key) ? String(pair.key.value) : "";
  if (!isSecretName(name) || !isPair(pair)) return;
  const value = isScalar(pair.value) ? pair.value.value : pair.value;
  if (value === null || value === undefined || value === `\${${name}}`) return;
  const node = doc.createNode(`\${${name}}`) as Scalar;
  node.comment = NOTE(name);
  pair.value = node;
  removed.push(name);
}

/** Unit file text → the same file with the value of every secret-named `Environment=` assignment replaced. */
export function redactUnit(text: string): Redacted {
  const removed: string[] = [];
  const lines = text.split("\n").flatMap((line) => {
    const m = /^(\s*Environment\s*=\s*)(.*)$/.exec(line);
    if (!m) return [line];
    const names: string[] = [];
    // Assignments are separated by spaces; a quoted one may hold spaces ("KEY=a b").
    const rest = m[2]!.replace(/"([A-Za-z_][A-Za-z0-9_]*)=((?:[^"\\]|\\.)*)"|([A-Za-z_][A-Za-z0-9_]*)=(\S*)/g, (all, qn?: string, _qv?: string, n?: string) => {
      const name = (qn ?? n)!;
      if (!isSecretName(name)) return all;
      names.push(name);
      return qn ? `"${name}=${PLACEHOLDER}"` : `${name}=${PLACEHOLDER}`;
    });
    if (names.length === 0) return [line];
    removed.push(...names);
    return [...names.map((n) => `#${NOTE(n, "move it to an EnvironmentFile= on the host")}`), `${m[1]}${rest}`];
  });
  return { text: lines.join("\n"), removed };
}
