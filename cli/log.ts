import pino, { type Logger } from 'pino';

/** JSON logs on stderr (stdout carries machine-readable output such as the ready line). */
export function createLogger(name: string, level = process.env.STOCKGATE_LOG_LEVEL || 'info'): Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }));
}

/** Print one JSON event line on stdout (`{"event":"ready",...}`), for scripts and tests. */
export function emitEvent(event: string, fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
}

/** Run `stop` once on SIGINT/SIGTERM, then exit. */
export function onShutdown(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (sig: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    stop().then(
      () => process.exit(0),
      (err) => {
        process.stderr.write(`shutdown after ${sig} failed: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

/**
 * A start-up error: rethrown to `main` (cli/usage.ts `exitWithError`), which prints it without a
 * stack trace and exits 2 for usage/configuration errors (`SG_ERR_USAGE`, `SG_ERR_CONFIG`) and 1
 * for anything else.
 */
export function failStart(err: unknown): never {
  throw err;
}
