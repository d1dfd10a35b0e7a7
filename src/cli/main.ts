#!/usr/bin/env node
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorCode } from '../common/errors.js';
import { commandIndex } from './commands/index.js';
import { commandIdf } from './commands/idf.js';
import { commandSearch } from './commands/search.js';
import { commandEval } from './commands/eval.js';
import { commandCollections } from './commands/collections.js';
import { commandExport, commandImport } from './commands/opensearch.js';
import { commandTune } from './commands/tune.js';
import { commandServe } from './commands/serve.js';
import { EXIT, UsageError, help } from './shared.js';

export { EXIT } from './shared.js';

/** The version in package.json (two folders above the compiled dist/src/cli). */
function packageVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
    dir = path.dirname(dir);
  }
  return 'unknown';
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case 'index':
        return await commandIndex(args);
      case 'search':
        return await commandSearch(args);
      case 'eval':
        return await commandEval(args);
      case 'collections':
        return await commandCollections(args);
      case 'tune':
        return await commandTune(args);
      case 'idf':
        return await commandIdf(args);
      case 'serve':
        return await commandServe(args);
      case 'export':
        return await commandExport(args);
      case 'import':
        return await commandImport(args);
      case '--version':
      case '-V':
      case 'version':
        process.stdout.write(`sparrow ${packageVersion()}\n`);
        return EXIT.ok;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        return help();
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`sparrow: ${error.message}\nRun "sparrow --help" for usage.\n`);
      return EXIT.usage;
    }
    const code = errorCode(error);
    if (code) {
      process.stderr.write(`sparrow: [${code}] ${(error as Error).message}\n`);
      return EXIT.failed;
    }
    process.stderr.write(`sparrow: unexpected failure: ${(error as Error).stack ?? String(error)}\n`);
    return EXIT.failed;
  }
}
const code = await main(process.argv.slice(2));
if (code >= 0) process.exitCode = code;
