#!/usr/bin/env node
// Runs the built CLI when present (npm run build; always in an installed package), else, in a
// checkout, the TypeScript sources through tsx. An installed package has no src/ and no tsx (a
// devDependency), so it must never reach the tsx branch: TRIBUTARY_FROM_SOURCE only counts where
// the sources are.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'cli', 'main.js');
const source = join(root, 'src', 'cli', 'main.ts');
let main;
if (existsSync(built) && (process.env.TRIBUTARY_FROM_SOURCE !== '1' || !existsSync(source))) {
  ({ main } = await import(pathToFileURL(built).href));
} else if (!existsSync(source)) {
  process.stderr.write(`tributary: ${built} is missing: this installation is incomplete; reinstall the package (npm pack builds dist/), or run npm run build in a checkout\n`);
  process.exit(1);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(pathToFileURL(join(root, 'src', 'cli', 'main.ts')).href));
}
const code = await main(process.argv.slice(2));
process.exitCode = code;
if (code !== 0 || !process.env.TRIBUTARY_NO_EXIT) process.exit(code);
