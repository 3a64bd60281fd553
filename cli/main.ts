import { Command } from 'commander';
import { exitWithError, markRequired, refuseEmptyValues } from './usage.js';
import { registerAdmin } from './commands/admin.js';
import { registerCloud } from './commands/cloud.js';
import { registerDecode } from './commands/decode.js';
import { registerDemo } from './commands/demo.js';
import { registerDevices } from './commands/devices.js';
import { registerEdge } from './commands/edge.js';
import { registerSimulate } from './commands/simulate.js';

/** Build the `stockgate` command tree. Exported for tests (help output, flag contracts). */
export function buildProgram(): Command {
  const program = new Command('stockgate')
    .description('stockgate: edge gateway and inventory backend (scanners, scales, RFID -> exactly-once stock ledger)')
    .enablePositionalOptions()
    // Errors are ours to print (cli/usage.ts): the flag named, "did you mean", no help dump.
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({ outputError: () => undefined });
  registerDemo(program);
  registerCloud(program);
  registerAdmin(program);
  registerEdge(program);
  registerSimulate(program);
  registerDevices(program);
  registerDecode(program);
  markRequired(program);
  // `--broker ''` must not silently mean "no --broker": an empty value is a usage error.
  program.hook('preAction', (_program, action) => refuseEmptyValues(action));
  return program;
}

/** Run the command line; every error ends here (exit 2 usage, 1 runtime; no stack trace). */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    exitWithError(err, program, argv.slice(2));
  }
}
