import { fromEnv, fromFile, type loadConfig } from '../config/load.js';

type Loaded = ReturnType<typeof loadConfig>;

/**
 * The loaded config as a command that checksums hands it to the library: without `chunkSize`
 * unless a flag, a TRIBUTARY_* variable or the config file named one. The library (runner/verify.ts)
 * reads a config without it as "verify's own chunk sizes" (1,000 rows compared, 20,000 where both
 * databases digest a chunk), and any size it is given as the user's, for digested chunks too;
 * loadConfig's defaults would otherwise fill in the copy's 5,000 (or verify's flag default) and
 * every digest would cover that many rows (bench/README.md "verify from the command line digests in
 * 20,000-row chunks").
 */
export function unlessChunkSizeNamed(loaded: Loaded, flags: Record<string, unknown>, env: NodeJS.ProcessEnv, configFile: string | undefined): Loaded | Omit<Loaded, 'chunkSize'> {
  const named = flags.chunkSize !== undefined || fromEnv(env).chunkSize !== undefined || (configFile !== undefined && fromFile(configFile).chunkSize !== undefined);
  if (named) return loaded;
  const { chunkSize: _default, ...unsized } = loaded;
  return unsized;
}
