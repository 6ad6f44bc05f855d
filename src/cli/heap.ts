import v8 from 'node:v8';

/**
 * How far V8 lets the heap grow past what survived the last full collection before it collects
 * again, in percent, for the CLI's process.
 *
 * Every buffer of a sync is bounded (--buffer-mb), but its memory is not: with the default policy,
 * on a machine with a few GB, V8 lets the old generation grow to up to four times what survived
 * the last full collection, so a stream that allocates fast (decoded events, batch entries, SQL
 * text) carries two or three times its live data as garbage. Measured (issue 9: 1M-row UPDATE +
 * DELETE in one source transaction while streaming, MariaDB 10.11 → PostgreSQL 15 / MariaDB, Node
 * 20, run from source, live heap 40–70 MB): peak RSS 309–326 / 369–391 MB with V8's policy, 230 /
 * 237 MB at 100 %, 206–214 / 219 MB at 50 %; Node's CPU for the 1.33M changes 16.2 s, 17.7 s and
 * 19.4 s. 100 % (the heap may double) keeps the bound with room at a tenth of the CPU cost.
 */
export const HEAP_GROWING_PERCENT = 100;

/**
 * Sets the heap growing factor (see HEAP_GROWING_PERCENT) unless `node --heap-growing-percent=N`
 * chose one; TRIBUTARY_HEAP_GROWING_PERCENT sets another (0: V8's own policy). V8 reads the flag
 * at every full collection, so setting it after start-up takes effect. A CLI decision, not the
 * library's: a program embedding Runner owns its heap.
 */
export function tuneHeap(execArgv: readonly string[] = process.execArgv, env: NodeJS.ProcessEnv = process.env): void {
  if (execArgv.some((a) => /^--heap[-_]growing[-_]percent/.test(a))) return;
  const fromEnv = env.TRIBUTARY_HEAP_GROWING_PERCENT;
  const percent = fromEnv !== undefined && /^\d+$/.test(fromEnv) ? Number(fromEnv) : HEAP_GROWING_PERCENT;
  v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
}
