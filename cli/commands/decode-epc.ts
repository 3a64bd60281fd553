import type { Command } from 'commander';

// Placeholder until the protocol library lands this command.
export function registerDecodeEpc(_parent: Command): void {}
