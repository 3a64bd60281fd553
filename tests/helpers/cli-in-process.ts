import { main } from '../../cli/main.js';

/** Thrown by the stubbed process.exit so that nothing runs after the CLI decided to exit. */
class ExitSignal extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

export interface CliRun {
  /** The first exit code asked for (0 when main returned without exiting). */
  status: number;
  stdout: string;
  stderr: string;
}

/**
 * Run `stockgate <args>` in this process (fast enough for property tests): process.exit and the
 * stdout/stderr writes are intercepted; output after the first exit is ignored. Only for argument
 * sets that fail before anything starts (a run that would start a service never returns).
 */
export async function runCliInProcess(args: string[]): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  let status: number | undefined;
  const exit = process.exit;
  const out = process.stdout.write;
  const err = process.stderr.write;
  process.exit = ((code?: number) => {
    status ??= code ?? 0;
    throw new ExitSignal(code ?? 0);
  }) as typeof process.exit;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    if (status === undefined) stdout += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    if (status === undefined) stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    await main(['node', 'stockgate', ...args]);
  } catch (e) {
    if (!(e instanceof ExitSignal)) {
      status ??= -1;
      stderr += `\n[escaped main: ${(e as Error)?.stack ?? String(e)}]`;
    }
  } finally {
    process.exit = exit;
    process.stdout.write = out;
    process.stderr.write = err;
  }
  return { status: status ?? 0, stdout, stderr };
}
