import type { Command } from 'commander';
import { decodeEpc } from '../../protocols/rfid/epc.js';
import { failFromError, printJson } from '../output.js';

/**
 * `stockgate decode epc <hex>`: one binary EPC (as a reader reports it) to its GS1 identity.
 * SGTIN-96 prints scheme, tagUri, pureUri, gtin, serial, filter (+ companyPrefix, itemReference);
 * SSCC-96 / GRAI-96 / GIAI-96 print their key (`sscc`, `grai`, `giai`) and URIs; anything else
 * `{"scheme":"raw","hex"}`. Text that is not hex exits 2 with `{"error":{"code","message"}}`.
 */
export function registerDecodeEpc(parent: Command): void {
  parent
    .command('epc')
    .description('decode a binary EPC (hex) per the GS1 EPC Tag Data Standard: SGTIN-96, SSCC-96, GRAI-96, GIAI-96, else raw')
    .argument('<hex>', 'EPC bank contents after the PC word, e.g. 3074257BF7194E4000001A85 (spaces, colons, 0x allowed)')
    .action((hex: string) => {
      try {
        printJson(decodeEpc(hex.replace(/0x/gi, '').replace(/[\s:,-]/g, '')));
      } catch (err) {
        failFromError(err);
      }
    });
}
