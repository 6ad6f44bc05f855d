// A preload (node --import) for tests that check what a CLI start loads: each package resolved is
// written to stderr once, as `LOADED <package>`.
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`
const seen = new Set();
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(r.url);
  if (m && !seen.has(m[1])) { seen.add(m[1]); process.stderr.write('LOADED ' + m[1] + '\\n'); }
  return r;
}`),
);
