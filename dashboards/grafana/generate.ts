/**
 * `npm run dashboards`: writes dashboards/grafana/dashboards/<name>.json from dashboards.ts.
 * The test (tests/dashboards/grafana.test.ts) fails when the committed JSON differs from this output.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allDashboards } from './dashboards.js';

export function renderDashboard(d: unknown): string {
  return `${JSON.stringify(d, null, 2)}\n`;
}

if (process.argv[1]?.endsWith('generate.js')) {
  // Beside this file in the source tree (from dist/dashboards/grafana/ or dashboards/grafana/).
  let root = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(root, 'package.json'))) root = dirname(root);
  const dir = join(root, 'dashboards', 'grafana', 'dashboards');
  for (const [name, d] of Object.entries(allDashboards())) {
    writeFileSync(join(dir, `${name}.json`), renderDashboard(d));
    process.stdout.write(`dashboards/grafana/dashboards/${name}.json\n`);
  }
}
