import { Command } from 'commander';
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
    .showHelpAfterError()
    .enablePositionalOptions();
  registerDemo(program);
  registerCloud(program);
  registerAdmin(program);
  registerEdge(program);
  registerSimulate(program);
  registerDevices(program);
  registerDecode(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
