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

/** Print a coded startup error and exit 2 (bad configuration) or 1 (anything else). */
export function failStart(err: unknown): never {
  const e = err as { code?: string; message?: string };
  process.stderr.write(`stockgate: ${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}\n`);
  process.exit(e.code === 'SG_ERR_CONFIG' ? 2 : 1);
}
