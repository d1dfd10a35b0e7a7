import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** Debian's liblucene8-java puts its jars here. */
const JARS = '/usr/share/java';

/**
 * Compiles a Lucene harness of scripts/ (javac against Debian's Lucene 8 core and analyzers) into
 * `classes`; undefined when Lucene 8 is not installed. The benchmarks' reference side.
 */
export function compileLuceneHarness(source: string, classes: string): { classes: string; classpath: string } | undefined {
  if (!fs.existsSync(JARS)) return undefined;
  const find = (prefix: string): string | undefined => fs.readdirSync(JARS).find((name) => name.startsWith(prefix) && /-8[.\d]*\.jar$/.test(name));
  const core = find('lucene-core-8');
  const analyzers = find('lucene-analyzers-common-8');
  if (!core || !analyzers) return undefined;
  const classpath = `${path.join(JARS, core)}:${path.join(JARS, analyzers)}`;
  fs.mkdirSync(classes, { recursive: true });
  execFileSync('javac', ['-cp', classpath, '-d', classes, source]);
  return { classes, classpath };
}
