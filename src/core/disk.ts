import { statfs } from 'node:fs/promises';
import { ErrorCode } from './errors.js';
import type { Requirement } from './check.js';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/**
 * The free space of a target's data directory, measured when the server runs on this machine
 * (a loopback host, and `dir` — as the server reports it — exists here), since no SQL reports it.
 * Otherwise a warning, never a ✔: nothing was measured.
 */
export async function freeSpaceRequirement(host: string, dir: string | undefined, engine: string): Promise<Requirement> {
  const base = { name: 'free space', fix: 'make sure the data directory has room for the source tables and their indexes', code: ErrorCode.TARGET_WRITE_FAILED } as const;
  if (dir && LOOPBACK.has(host)) {
    try {
      const s = await statfs(dir);
      const gib = (Number(s.bavail) * Number(s.bsize)) / 2 ** 30;
      return { ...base, ok: true, value: `${gib.toFixed(1)} GiB free in ${dir}`, severity: 'info', fix: '' };
    } catch {
      // Not this machine's directory (a container, a tunnel): unknown.
    }
  }
  return { ...base, ok: false, value: `unknown (${engine} does not report free disk space over SQL, and the server is not on this machine)`, severity: 'warning' };
}
