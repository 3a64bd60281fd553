import type { Command } from 'commander';

// Placeholder until the protocol library lands this command.
export function registerCountByWeight(_parent: Command): void {}
