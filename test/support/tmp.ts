import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A fresh temporary folder removed when the test ends. */
export function tempDir(t: { teardown: (fn: () => unknown) => void }, prefix = 'sparrow-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}
