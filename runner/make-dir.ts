// Creating a directory and its parents. Node's own recursive mkdir never returns for a path
// under /proc (it retries ENOENT forever), so a user's `--report-dir /proc/x` would hang the
// suite: this walks up to what exists and creates each level, failing with the first error.

import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export function makeDir(path: string): void {
  const dir = resolve(path);
  let stat;
  try {
    stat = statSync(dir);
  } catch {
    const parent = dirname(dir);
    if (parent !== dir) makeDir(parent);
    try {
      mkdirSync(dir);
    } catch (e) {
      // Made meanwhile by another process (two shards sharing a corpus): fine.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    return;
  }
  if (!stat.isDirectory()) throw Object.assign(new Error(`${dir} is not a directory`), { code: 'ENOTDIR' });
}
