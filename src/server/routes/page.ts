import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { SparrowError } from '../../common/errors.js';
import * as schemas from '../schemas.js';
import type { RouteContext } from './context.js';

export function registerPage(api: FastifyInstance, ctx: RouteContext): void {
  const { keys, roles } = ctx;
  // The search page (src/web, built into dist/src/web): public files; what it shows comes
  // through the API with the key the person gives it.
  const pageDir = fileURLToPath(new URL('../../web/', import.meta.url));
  const PAGE_FILES: Record<string, string> = { 'app.js': 'text/javascript; charset=utf-8', 'style.css': 'text/css; charset=utf-8', 'app.js.map': 'application/json' };
  const send = (reply: FastifyReply, name: string, type: string): Buffer => {
    const file = path.join(pageDir, name);
    if (!fs.existsSync(file)) throw new SparrowError('PAGE_NOT_BUILT', `the search page is not built (${name} is missing); run npm run build`);
    void reply.type(type).header('cache-control', 'no-cache');
    return fs.readFileSync(file);
  };
  api.get('/', { schema: { tags: ['operations'], summary: 'The search page (HTML).', produces: ['text/html'], hide: true } }, async (_request, reply) => send(reply, 'index.html', 'text/html; charset=utf-8'));
  api.get<{ Params: { file: string } }>(
    '/ui/:file',
    { schema: { tags: ['operations'], summary: 'The search page\'s script and style sheet.', hide: true, params: { type: 'object', required: ['file'], properties: { file: { type: 'string', maxLength: 64 } } } } },
    async (request, reply) => {
      const type = PAGE_FILES[request.params.file];
      if (!type) throw new SparrowError('ROUTE_NOT_FOUND', `no page file ${JSON.stringify(request.params.file)}`);
      return send(reply, request.params.file, type);
    },
  );
  api.get(
    '/session',
    {
      config: { access: 'read' },
      schema: {
        tags: ['operations'],
        summary: 'What the presented key may do: its role (admin when the server has no keys) and whether keys are required.',
        response: { 200: { type: 'object', properties: { role: { type: 'string', enum: ['read', 'write', 'admin'] }, keys_required: { type: 'boolean' } } }, ...schemas.errorResponses },
      },
    },
    async (request) => ({ role: roles.get(request) ?? 'admin', keys_required: keys.size > 0 }),
  );
}
