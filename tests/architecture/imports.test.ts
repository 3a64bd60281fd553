import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LAYERS, checkImports, classify, formatViolation, importsOf, type SourceFile } from './import-rules.js';

const ROOT = join(import.meta.dirname, '..', '..');

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : walk(p);
    return e.isFile() && e.name.endsWith('.ts') ? [p] : [];
  });
}

function sourceFiles(): SourceFile[] {
  return LAYERS.filter((l) => existsSync(join(ROOT, l))).flatMap((l) =>
    walk(join(ROOT, l)).map((abs) => ({ path: relative(ROOT, abs).split(sep).join('/'), text: readFileSync(abs, 'utf8') })),
  );
}

describe('import rules on the source tree', () => {
  const files = sourceFiles();

  it('finds the source files and their imports', () => {
    const paths = files.map((f) => f.path);
    for (const p of ['protocols/mqtt/movement.ts', 'edge/outbox/sqlite.ts', 'cloud/store/sqlite.ts', 'devices/driver.ts']) expect(paths).toContain(p);
    const byPath = new Map(files.map((f) => [f.path, f]));
    expect(importsOf(byPath.get('edge/outbox/sqlite.ts')!.text)).toContain('better-sqlite3');
    // The parser finds a module's imports (a subset check: the list grows with the module).
    expect(importsOf(byPath.get('protocols/mqtt/fields.ts')!.text)).toEqual(expect.arrayContaining(['zod', './topics.js']));
  });

  it('has no violations', () => {
    expect(checkImports(files).map(formatViolation)).toEqual([]);
  });
});

describe('import checker (self-test on in-memory files)', () => {
  it('catches every kind of violation and names file -> specifier', () => {
    const fake: SourceFile[] = [
      {
        path: 'protocols/scale/fake.ts',
        text: `
          import { x } from '../../edge/agent.js';
          import type { Store } from '../../cloud/store/store.js';
          export * from '../../devices/driver.js';
          export { y } from '../../cli/main.js';
          import '../../dashboards/board.js';
          import { readFileSync } from 'node:fs';
          import { readFile } from 'fs/promises';
          import net from 'net';
          import os from 'node:os';
          import { Worker } from 'node:worker_threads';
          import mqtt from 'mqtt';
          import Database from 'better-sqlite3';
          import { SerialPort } from 'serialport';
          import { Stream } from '@serialport/stream';
          import pg from 'pg';
          import lodash from 'lodash/fp';
          const later = () => import('node:child_process');
          const http = require('node:http');
          // allowed:
          import { z } from 'zod';
          import { Gtin } from 'gtin';
          import * as tds from 'epc-tds';
          import { Buffer } from 'node:buffer';
          import { ProtocolError } from '../errors.js';
          import { push } from './ascii.js';
          // import nope from 'aedes';   (a comment is not an import)
          const s = "import('fastify')";
        `,
      },
      { path: 'devices/fake.ts', text: `import '../edge/agent.js';\nimport { c } from '../cloud/config.js';\nimport '../protocols/mqtt/index.js';\nimport { SerialPort } from 'serialport';` },
      { path: 'edge/fake.ts', text: `import { Store } from '../cloud/store/store.js';\nimport '../devices/driver.js';\nimport '../protocols/mqtt/index.js';\nimport Database from 'better-sqlite3';` },
      { path: 'cloud/fake.ts', text: `const a = await import('../edge/agent.js');\nimport type { Driver } from '../devices/driver.js';\nimport '../protocols/mqtt/index.js';\nimport fastify from 'fastify';` },
      { path: 'cli/fake.ts', text: `import '../cloud/service.js';\nimport '../edge/agent.js';` },
    ];
    expect(checkImports(fake).map(formatViolation)).toEqual([
      'protocols/scale/fake.ts -> ../../edge/agent.js',
      'protocols/scale/fake.ts -> ../../cloud/store/store.js',
      'protocols/scale/fake.ts -> ../../devices/driver.js',
      'protocols/scale/fake.ts -> ../../cli/main.js',
      'protocols/scale/fake.ts -> ../../dashboards/board.js',
      'protocols/scale/fake.ts -> node:fs',
      'protocols/scale/fake.ts -> fs/promises',
      'protocols/scale/fake.ts -> net',
      'protocols/scale/fake.ts -> node:os',
      'protocols/scale/fake.ts -> node:worker_threads',
      'protocols/scale/fake.ts -> mqtt',
      'protocols/scale/fake.ts -> better-sqlite3',
      'protocols/scale/fake.ts -> serialport',
      'protocols/scale/fake.ts -> @serialport/stream',
      'protocols/scale/fake.ts -> pg',
      'protocols/scale/fake.ts -> lodash/fp',
      'protocols/scale/fake.ts -> node:child_process',
      'protocols/scale/fake.ts -> node:http',
      'devices/fake.ts -> ../edge/agent.js',
      'devices/fake.ts -> ../cloud/config.js',
      'edge/fake.ts -> ../cloud/store/store.js',
      'cloud/fake.ts -> ../edge/agent.js',
      'cloud/fake.ts -> ../devices/driver.js',
    ]);
  });

  it('is clean on a file that follows the rules', () => {
    expect(checkImports([{ path: 'protocols/mqtt/ok.ts', text: `import { z } from 'zod';\nimport { topics } from './topics.js';` }])).toEqual([]);
  });

  it('classifies specifiers', () => {
    expect(classify('edge/outbox/sqlite.ts', '../../protocols/mqtt/index.js')).toEqual({ type: 'local', layer: 'protocols' });
    expect(classify('edge/agent.ts', './outbox/sqlite.js')).toEqual({ type: 'local', layer: 'edge' });
    expect(classify('protocols/x.ts', 'node:fs/promises')).toEqual({ type: 'builtin', name: 'fs' });
    expect(classify('protocols/x.ts', 'dgram')).toEqual({ type: 'builtin', name: 'dgram' });
    expect(classify('protocols/x.ts', '@serialport/bindings-cpp/dist/x.js')).toEqual({ type: 'package', name: '@serialport/bindings-cpp' });
    expect(classify('protocols/x.ts', 'zod/v4')).toEqual({ type: 'package', name: 'zod' });
  });
});
