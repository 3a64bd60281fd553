import type { Command } from 'commander';

// Placeholder until the protocol library lands this command.
export function registerDecodeGs1(_parent: Command): void {}
