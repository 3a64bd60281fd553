import { Command } from 'commander';
import { registerCloud } from './commands/cloud.js';
import { registerDecode } from './commands/decode.js';
import { registerDemo } from './commands/demo.js';
import { registerEdge } from './commands/edge.js';
import { registerSimulate } from './commands/simulate.js';

/** Build the `stockgate` command tree. Exported for tests (help output, flag contracts). */
export function buildProgram(): Command {
  const program = new Command('stockgate')
    .description('stockgate: edge gateway and inventory backend (scanners, scales, RFID -> exactly-once stock ledger)')
    .showHelpAfterError()
    .enablePositionalOptions();
  registerDemo(program);
  registerCloud(program);
  registerEdge(program);
  registerSimulate(program);
  registerDecode(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
