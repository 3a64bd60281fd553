import type { Command } from 'commander';
import { registerDecodeGs1 } from './decode-gs1.js';
import { registerDecodeEpc } from './decode-epc.js';
import { registerDecodeScale } from './decode-scale.js';
import { registerDecodeRfid } from './decode-rfid.js';
import { registerCountByWeight } from './count-by-weight.js';

/** `stockgate decode ...` and `stockgate count-by-weight`: the protocol library from the shell. */
export function registerDecode(program: Command): void {
  const decode = program
    .command('decode')
    .description('decode device data (gs1, epc, scale, rfid) to JSON on stdout; invalid input exits 2');
  registerDecodeGs1(decode);
  registerDecodeEpc(decode);
  registerDecodeScale(decode);
  registerDecodeRfid(decode);
  registerCountByWeight(program);
}
