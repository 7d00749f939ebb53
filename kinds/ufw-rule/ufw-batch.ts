import { CommandError } from "../../core/errors.js";
import type { Runner } from "../../core/runner.js";

/**
 * Many `ufw` rule commands in one transaction: one Python process runs each command through UFW's own code
 * (ufw.frontend.parse_command and UFWFrontend.do_action, exactly as /usr/sbin/ufw does, under UFW's lock), with
 * the live chains left alone while UFW rewrites its user rules files, then reloads the user chains once from
 * those files (backend._reload_user_rules: flush the ufw-user-* chains, `iptables-restore -n` the file). UFW's
 * own `app update all` batches the same way. So the files are byte-for-byte what the same commands one by one
 * write, and the chains what UFW loads from them (ufw-batch.sandbox.test.ts compares both).
 *
 * Why: one `ufw` process per rule is a Python start-up plus, on an active firewall, a reload or iptables calls
 * per rule — 0.23–0.33 s each, 45 s for 200 rules (bench/README.md).
 */
const SCRIPT = String.raw`
import contextlib, gettext, io, json, os, sys
import ufw.common, ufw.frontend, ufw.util
# UFW checks the ownership and mode of its own script (sys.argv[0]) before it touches anything: name it.
sys.argv = sys.argv[1:]
gettext.install(ufw.common.programName)
commands = json.load(sys.stdin)
out = {"done": 0, "messages": [], "error": None, "reloaded": False}
ui = ufw.frontend.UFWFrontend(False)
backend = ui.backend
live = backend.is_enabled()
# The lock file /usr/sbin/ufw takes.
lockfile = "/run/ufw.lock"
if os.getuid() != 0 or "TESTSTATE" in os.environ:
    lockfile = os.path.join(ufw.common.state_dir, "ufw.lock")
lock = ufw.util.create_lock(lockfile=lockfile, dryrun=False)
try:
    # While the batch runs, set_rule only rewrites the rules files (its path for an inactive firewall).
    backend.is_enabled = lambda: False
    try:
        for args in commands:
            # ufw.util.error() prints "ERROR: ..." and exits: keep what it says, and stop the batch there.
            # (it writes bytes to sys.stderr.buffer)
            err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
            try:
                with contextlib.redirect_stderr(err):
                    pr = ufw.frontend.parse_command(["ufw"] + args)
                    if "rule" in pr.data:
                        res = ui.do_action(pr.action, pr.data["rule"], pr.data["iptype"], True)
                    else:
                        res = ui.do_action(pr.action, "", "", True)
            except SystemExit:
                err.flush()
                out["error"] = err.buffer.getvalue().decode("utf-8", "replace").strip().removeprefix("ERROR: ") or "ufw exited"
                break
            out["messages"].append(res)
            out["done"] += 1
    except ufw.common.UFWError as e:
        out["error"] = e.value
    except ValueError:
        out["error"] = "Invalid syntax"
    finally:
        del backend.is_enabled
    # Whatever was written, even before a failure, goes live: files and chains never disagree.
    if live and out["done"] > 0:
        backend._reload_user_rules()
        out["reloaded"] = True
finally:
    ufw.util.release_lock(lock)
print(json.dumps(out))
`;

export interface UfwBatchResult {
  /** How many commands UFW carried out, in order; on a failure the next one is the one that failed. */
  done: number;
  messages: string[];
  error: string | null;
  reloaded: boolean;
}

/**
 * The `ufw` script's path and the interpreter (with its options) of its `#!` line: the Python whose path holds
 * UFW's modules, which the first `python3` on PATH need not be (a pyenv shim, say).
 */
async function ufwScript(runner: Runner, ufw: string): Promise<{ path: string; interpreter: string[] }> {
  const where = (await runner.run("sh", ["-c", 'command -v "$1"', "sh", ufw])).stdout.trim();
  const first = (await runner.run("head", ["-n", "1", where])).stdout.split("\n")[0] ?? "";
  const m = /^#!\s*(\S.*)$/.exec(first);
  if (!m) throw new CommandError(`head -n 1 ${where}`, 0, `${where} is not a script with a #! line; cannot find UFW's Python`);
  return { path: where, interpreter: m[1]!.trim().split(/\s+/) };
}

/** Runs `commands` (each the arguments of one `ufw` command) in one transaction; throws CommandError if the process fails. */
export async function runUfwBatch(runner: Runner, commands: string[][], options: { ufw?: string; python?: string } = {}): Promise<UfwBatchResult> {
  const script = await ufwScript(runner, options.ufw ?? "ufw");
  const [bin, ...opts] = options.python ? [options.python] : script.interpreter;
  const r = await runner.run(bin!, [...opts, "-c", SCRIPT, script.path], { input: JSON.stringify(commands), mutates: true, okExitCodes: [0] });
  const last = r.stdout.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(last) as UfwBatchResult;
  } catch {
    throw new CommandError(`${bin} -c <ufw batch>`, r.exitCode, `unexpected output: ${r.stdout.slice(-500)}${r.stderr.slice(-500)}`);
  }
}
