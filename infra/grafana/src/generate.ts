// npm run dashboards: writes every dashboard of index.ts to infra/grafana/dashboards/.
import { writeFileSync } from 'node:fs';
import { DASHBOARDS, dashboardJson } from './index.ts';

const dir = new URL('../dashboards/', import.meta.url);
for (const { file, build } of DASHBOARDS) {
  writeFileSync(new URL(file, dir), dashboardJson(build()));
  console.log(`infra/grafana/dashboards/${file}`);
}
