import type { Command } from 'commander';

// Placeholder until the protocol library lands this command.
export function registerDecodeScale(_parent: Command): void {}
