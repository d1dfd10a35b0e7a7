import { Engine } from '../../engine/engine.js';
import { EXIT, UsageError, parse, dataDirOf, help } from '../shared.js';

export async function commandCollections(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {});
  if (values.help) return help();
  if (positionals[0] === 'delete') {
    const name = positionals[1];
    if (!name || positionals.length > 2) throw new UsageError('usage: sparrow collections delete NAME');
    const engine = Engine.openExisting(dataDirOf(values));
    try {
      engine.collection(name);
      engine.deleteCollection(name);
      process.stdout.write(`deleted ${name}\n`);
      return EXIT.ok;
    } finally {
      engine.close();
    }
  }
  if (positionals.length > 0) throw new UsageError(`unknown collections command ${JSON.stringify(positionals[0])}; try "sparrow collections" or "sparrow collections delete NAME"`);
  if (!Engine.exists(dataDirOf(values))) {
    // Listing creates nothing: an empty or new folder simply has no collections.
    process.stdout.write(values.json ? '[]\n' : 'no collections\n');
    return EXIT.ok;
  }
  const engine = Engine.open(dataDirOf(values));
  try {
    const list = engine.listCollections().map((c) => ({ name: c.name, documents: engine.collection(c.name).statistics().documents, encoder: c.encoder, created_at: c.createdAt }));
    if (values.json) process.stdout.write(JSON.stringify(list, null, 2) + '\n');
    else if (list.length === 0) process.stdout.write('no collections\n');
    else for (const c of list) process.stdout.write(`${c.name}\t${c.documents} documents\t${JSON.stringify(c.encoder)}\n`);
    return EXIT.ok;
  } finally {
    engine.close();
  }
}
