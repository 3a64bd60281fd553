import type { Command } from 'commander';

// Placeholder until the protocol library lands this command.
export function registerDecodeRfid(_parent: Command): void {}
