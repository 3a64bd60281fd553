import { Command } from 'commander';
import { registerDecode } from './commands/decode.js';

/** Build the `stockgate` command tree. Exported for tests (help output, flag contracts). */
export function buildProgram(): Command {
  const program = new Command('stockgate')
    .description('stockgate: edge gateway and inventory backend (scanners, scales, RFID -> exactly-once stock ledger)')
    .showHelpAfterError()
    .enablePositionalOptions();
  registerDecode(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
