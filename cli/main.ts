import { terminalOutput, wantsMachineFormat } from "./colour.js";
import { processOutput } from "./output.js";
import { runCli } from "./program.js";

const argv = process.argv.slice(2);
process.exitCode = await runCli(argv, terminalOutput(processOutput, !wantsMachineFormat(argv)));
