import pc from "picocolors";
import type { Output } from "./output.js";

/**
 * Colour for people at a terminal, plain text for pipes, files and CI logs. Off when NO_COLOR is set (no-color.org),
 * when the stream is not a TTY or TERM is dumb; FORCE_COLOR turns it on. Each stream is decided on its own, so
 * `tack plan | less` is plain while its stderr notes stay coloured. Machine formats (JSON, markdown) are never
 * painted: only the text renderings' words are (severities, actions, locations).
 */
export function colourWanted(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "0") return true;
  return stream.isTTY === true && env.TERM !== "dumb";
}

type Paint = (line: string) => string;

/** Paint one line of tack's text output: severity words, change actions, file:line locations, hints. */
export function painter(enabled: boolean): Paint {
  if (!enabled) return (line) => line;
  const c = pc.createColors(true);
  const severity: Record<string, (s: string) => string> = { error: c.red, warning: c.yellow, info: c.cyan };
  const action: Record<string, (s: string) => string> = { create: c.green, update: c.yellow, delete: c.red };
  const one: Paint = (line) =>
    line
      .replace(/^(\s*)(error|warning|info)(:)/, (_, sp: string, w: string, colon: string) => `${sp}${c.bold(severity[w]!(w))}${colon}`)
      .replace(/^(\s+)(create|update|delete)( )/, (_, sp: string, w: string, rest: string) => `${sp}${action[w]!(w)}${rest}`)
      .replace(/^(\s*)((?:[\w.-]+\/)*[\w.-]+\.ya?ml:\d+:\d+)( )/, (_, sp: string, loc: string, rest: string) => `${sp}${c.bold(loc)}${rest}`)
      .replace(/\((destructive)\)/, (_, w: string) => `(${c.red(w)})`)
      .replace(/^(\s*)(hint:)/, (_, sp: string, w: string) => `${sp}${c.cyan(w)}`)
      .replace(/^(valid:)/, (w: string) => c.green(w))
      .replace(/^(invalid:)/, (w: string) => c.red(w));
  // A rendered plan arrives as one string of many lines.
  return (text) => text.split("\n").map(one).join("\n");
}

/** The process's output, painted per stream when colour is wanted and the command prints text. */
export function terminalOutput(base: Output, textFormat: boolean): Output {
  const out = painter(textFormat && colourWanted(process.stdout));
  const err = painter(textFormat && colourWanted(process.stderr));
  return { out: (l) => base.out(out(l)), err: (l) => base.err(err(l)) };
}

/** `--format json|markdown` (or `--format=json`) anywhere on the command line: a format for machines. */
export function wantsMachineFormat(argv: string[]): boolean {
  return argv.some((a, i) => (a === "--format" && /^(json|markdown)$/.test(argv[i + 1] ?? "")) || /^--format=(json|markdown)$/.test(a));
}
