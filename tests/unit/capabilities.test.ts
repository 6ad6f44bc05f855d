/**
 * Capabilities are fields the callers branch on; no caller tests for a method's presence (issue 11).
 * Two halves:
 * - each engine's source and target class declares its capabilities truthfully: a true capability's
 *   methods do real work, a false one's are the stubs the seams document (`notSupported`, or the
 *   honest empty result);
 * - the copier, checksum and runner paths, run on the in-memory fakes with a capability turned
 *   off, never call its methods and take the fallback: canonical rows instead of encoded chunks,
 *   rows instead of digests, an idle stream instead of the head position, no value scan, no DDL.
 * That the real methods work is the integration tests' business (verify, sync, move, types).
 */
import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { applierHooks, ContinuousChecker } from '../../src/checksum/continuous.js';
import { planTable } from '../../src/checksum/plan.js';
import { parseDsn } from '../../src/config/dsn.js';
import { parseConfig } from '../../src/config/parse.js';
import { Convergence } from '../../src/copier/convergence.js';
import type { ChangeSource, SourceCapabilities } from '../../src/core/source.js';
import type { Target, TargetCapabilities } from '../../src/core/target.js';
import type { Row } from '../../src/core/values.js';
import { openSource, openTarget } from '../../src/engines/registry.js';
import { planSync } from '../../src/runner/plan.js';
import { StreamApplier } from '../../src/stream/applier.js';
import { copierOf } from '../helpers/copier.js';
import { FakeSource, FakeTarget, TABLE, until } from '../helpers/fakes.js';

const logger = pino({ level: 'silent' });

/** Which methods each capability announces. */
const SOURCE_METHODS: Record<Exclude<keyof SourceCapabilities, 'schemaChanges' | 'logsCascades' | 'rowFilters' | 'lineagePositions'>, readonly string[]> = {
  encodedFormats: ['readChunkEncoded'],
  chunkDigest: ['chunkDigest'],
  checksumReads: ['readRowsByKeys', 'scanRows'],
  reportsHead: ['headPosition'],
  retainsLog: ['retainedBytes', 'acknowledge'],
  stopWrites: ['stopWrites'],
  valueStats: ['valueStats'],
};
const TARGET_METHODS: Record<Exclude<keyof TargetCapabilities, 'atomicCheckpoint' | 'transactionalDdl' | 'keyRanges' | 'namespaces' | 'commitLimit' | 'rowDocuments'>, readonly string[]> = {
  chunkFormats: ['writeEncodedChunk', 'acceptsEncoded'],
  chunkDigest: ['chunkDigest'],
  readBack: ['readChunk', 'readRowsByKeys', 'readKeys', 'scanRows'],
  checkValues: ['checkValues'],
  plannedDdl: ['plannedDdl'],
  foreignKeys: ['createForeignKeys'],
};

/**
 * Whether a method's compiled text is a stub: a body that throws notSupported, or only returns
 * an empty result ([], undefined, false) or nothing at all.
 */
function isStub(obj: object, method: string): boolean {
  const fn = (obj as Record<string, unknown>)[method];
  if (typeof fn !== 'function') throw new Error(`${method} is missing`);
  const text = (fn as () => unknown).toString();
  const body = text.slice(text.indexOf('{') + 1, text.lastIndexOf('}')).trim();
  return /notSupported/.test(body) || /^(return( \[\]| undefined| false)?;?)?$/.test(body);
}

const on = (c: boolean | readonly string[]) => (Array.isArray(c) ? c.length > 0 : c === true);

const config = parseConfig({ source: 'mysql://u@127.0.0.1/db', target: 'postgres://u@127.0.0.1/db2' });
const sides = async (engine: 'mysql' | 'postgres'): Promise<{ source: ChangeSource; target: Target }> => {
  const url = engine === 'mysql' ? 'mysql://u@127.0.0.1/db' : 'postgres://u@127.0.0.1/db';
  return {
    source: await openSource(config, parseDsn(url, 'source'), 'capabilities-test', logger),
    target: await openTarget(config, parseDsn(url, 'target'), 'capabilities-test', logger),
  };
};

describe.each(['mysql', 'postgres'] as const)('the %s engine declares its capabilities truthfully', (engine) => {
  it('source: a true capability has working methods, a false one only the documented stubs', async () => {
    const { source } = await sides(engine);
    for (const [cap, methods] of Object.entries(SOURCE_METHODS) as [keyof SourceCapabilities, readonly string[]][]) {
      for (const m of methods) expect({ cap, m, stub: isStub(source, m) }).toEqual({ cap, m, stub: !on(source.capabilities[cap]) });
    }
  });

  it('target: a true capability has working methods, a false one only the documented stubs; data and checkpoint commit together', async () => {
    const { target } = await sides(engine);
    expect(target.capabilities.atomicCheckpoint).toBe(true);
    for (const [cap, methods] of Object.entries(TARGET_METHODS) as [keyof typeof TARGET_METHODS, readonly string[]][]) {
      for (const m of methods) expect({ cap, m, stub: isStub(target, m) }).toEqual({ cap, m, stub: !on(target.capabilities[cap]) });
    }
  });
});

describe('the etcd engine (a target only) declares its capabilities truthfully', () => {
  it('a true capability has working methods, a false one only the documented stubs; keys by bytes, commits bounded by --max-txn-ops', async () => {
    const target = await openTarget(parseConfig({ source: 'mysql://u@127.0.0.1/db', target: 'etcd://127.0.0.1:2379/p', maxTxnOps: 64 }), parseDsn('etcd://127.0.0.1:2379/p', 'target'), 'capabilities-test', logger);
    expect(target.capabilities).toMatchObject({ atomicCheckpoint: true, keyRanges: false, commitLimit: 63, chunkFormats: ['etcd-json-lines'], foreignKeys: false });
    for (const [cap, methods] of Object.entries(TARGET_METHODS) as [keyof typeof TARGET_METHODS, readonly string[]][]) {
      for (const m of methods) expect({ cap, m, stub: isStub(target, m) }).toEqual({ cap, m, stub: !on(target.capabilities[cap]) });
    }
    expect(await target.plannedDdl([{ ...TABLE, engine: 'mysql' }], { recreate: false })).toEqual([`-- t: keys /p/t/<id>, each the row as one JSON object`]);
  });
});

describe('what each engine can do', () => {
  it('MySQL renders LOAD DATA, COPY text and etcd JSON chunks, retains no log and scans no values; PostgreSQL does all but name its defaults', async () => {
    const mysql = await sides('mysql');
    const pg = await sides('postgres');
    expect(mysql.source.capabilities).toMatchObject({ encodedFormats: ['mysql-load-data-tsv', 'postgres-copy-text', 'etcd-json-lines'], retainsLog: false, valueStats: false });
    expect(await mysql.source.retainedBytes()).toBeUndefined();
    expect(await mysql.source.valueStats(TABLE)).toEqual([]);
    expect(pg.source.capabilities).toMatchObject({ encodedFormats: ['postgres-copy-binary', 'postgres-copy-text'], retainsLog: true, valueStats: true });
    expect(await pg.source.databaseDefaults()).toBeUndefined();
    expect(mysql.target.capabilities.checkValues).toBe(true);
    expect(pg.target.capabilities.checkValues).toBe(false);
    expect(() => pg.target.checkValues(TABLE, [])).toThrow('checkValues is not supported by this target; capabilities.checkValues is false');
  });
});

function seeded(n: number, tables = [TABLE]): FakeSource {
  const source = new FakeSource(tables);
  source.seed('t', Array.from({ length: n }, (_, i): Row => [BigInt(i + 1), `v${i + 1}`]));
  return source;
}


describe('the copier branches on encodedFormats and chunkFormats', () => {
  /** A fake pair that both name format 'f' when asked to: readChunkEncoded then declines every chunk. */
  async function copy(sourceFormats: string[], targetFormats: string[]) {
    const source = seeded(35);
    const target = new FakeTarget({ chunkDelayMs: 0 });
    source.capabilities = { ...source.capabilities, encodedFormats: sourceFormats };
    target.capabilities = { ...target.capabilities, chunkFormats: targetFormats };
    target.acceptsEncoded = () => true;
    const encoded = vi.spyOn(source, 'readChunkEncoded');
    const accepts = vi.spyOn(target, 'acceptsEncoded');
    const writeEncoded = vi.spyOn(target, 'writeEncodedChunk');
    await copierOf(source, target).run();
    expect(target.table('t').all()).toEqual(source.table('t').all());
    expect(writeEncoded).not.toHaveBeenCalled();
    return { encoded: encoded.mock.calls.length, accepts: accepts.mock.calls.length, chunks: target.chunkLog.length };
  }

  it('asks neither side about a format one of them lacks, and copies canonical rows', async () => {
    for (const [s, t] of [[[], ['f']], [['f'], []], [['g'], ['f']]]) {
      expect(await copy(s as string[], t as string[])).toMatchObject({ encoded: 0, accepts: 0 });
    }
  });

  it('asks the source for a format both name, and falls back to rows when it declines the chunk', async () => {
    const { encoded, accepts, chunks } = await copy(['f'], ['f']);
    expect(chunks).toBeGreaterThan(1);
    expect({ encoded, accepts }).toEqual({ encoded: chunks, accepts: chunks });
  });
});

/** A running applier and a continuous checker over fakes holding the same rows. */
async function checking(source: FakeSource, target: FakeTarget) {
  const convergence = new Convergence();
  const applier = new StreamApplier({ source, target, tables: [TABLE], from: '0', sourceId: 'fake-source', convergence, batchSize: 1, flushIntervalMs: 5, bufferBytes: 1 << 20, logger });
  applier.setPhase('stream');
  const streaming = applier.run();
  const plan = planTable(TABLE, (await target.describe('t'))!, { zeroDates: 'error' });
  const checker = new ContinuousChecker({
    source,
    target,
    plans: [plan],
    convergence,
    ...applierHooks(applier),
    chunkSize: 10,
    chunkBytes: 1 << 20,
    intervalMs: 600_000,
    streamWaitMs: 5000,
    logger,
  });
  const abort = new AbortController();
  const running = checker.run(abort.signal);
  return {
    checker,
    stop: async () => {
      abort.abort();
      applier.stop();
      await Promise.all([running, streaming]);
    },
  };
}

function pair(n: number): { source: FakeSource; target: FakeTarget } {
  const source = seeded(n);
  const target = new FakeTarget({ chunkDelayMs: 0 });
  for (const r of source.table('t').all()) target.table('t').put(r);
  return { source, target };
}

describe('the continuous checksum branches on chunkDigest and reportsHead', () => {
  it('settles equal chunks by digests when both sides digest (the control)', async () => {
    const { source, target } = pair(45);
    const c = await checking(source, target);
    await c.checker.firstCleanPass;
    expect(c.checker.status().chunksByDigest).toBe(c.checker.status().chunksChecked);
    await c.stop();
  });

  it.each(['source', 'target'] as const)('reads rows instead of digests when the %s does not digest', async (side) => {
    const { source, target } = pair(45);
    if (side === 'source') source.capabilities = { ...source.capabilities, chunkDigest: false };
    else target.capabilities = { ...target.capabilities, chunkDigest: false };
    const digests = [vi.spyOn(source, 'chunkDigest'), vi.spyOn(target, 'chunkDigest')];
    const c = await checking(source, target);
    await c.checker.firstCleanPass;
    expect(c.checker.status()).toMatchObject({ chunksByDigest: 0, rowsChecked: 45, mismatches: 0 });
    for (const d of digests) expect(d).not.toHaveBeenCalled();
    await c.stop();
  });

  it('waits for an idle stream instead of the head position when the source cannot report it, and still repairs', async () => {
    const { source, target } = pair(25);
    source.capabilities = { ...source.capabilities, reportsHead: false };
    const head = vi.spyOn(source, 'headPosition');
    target.table('t').put([7n, 'drift']);
    const c = await checking(source, target);
    await until('a repair', () => c.checker.status().repairs === 1, 10_000);
    expect(target.table('t').all()).toEqual(source.table('t').all());
    expect(head).not.toHaveBeenCalled();
    await c.stop();
  });
});

describe('--dry-run branches on valueStats, checkValues, reportsHead and plannedDdl', () => {
  it('scans no values, asks no head position and renders no DDL where a side cannot', async () => {
    const source = new FakeSource();
    const target = new FakeTarget();
    const calls = [vi.spyOn(source, 'valueStats'), vi.spyOn(target, 'checkValues'), vi.spyOn(target, 'plannedDdl')];
    const head = vi.spyOn(source, 'headPosition');
    const plan = await planSync(config, { logger, source, target });
    for (const c of calls) expect(c).not.toHaveBeenCalled();
    expect(head).toHaveBeenCalled();
    expect(plan.notes).toContain('the fake target cannot render its DDL without running it');

    const other = new FakeSource();
    other.capabilities = { ...other.capabilities, reportsHead: false, valueStats: true };
    const stats = vi.spyOn(other, 'valueStats');
    const head2 = vi.spyOn(other, 'headPosition');
    const second = await planSync(config, { logger, source: other, target: new FakeTarget() });
    // The source scans, but not for a target that cannot judge the result.
    expect(stats).not.toHaveBeenCalled();
    expect(head2).not.toHaveBeenCalled();
    expect(second.startPosition).toBeNull();
  });

  it('scans values when both sides can, and renders DDL when the target can', async () => {
    const source = new FakeSource();
    const target = new FakeTarget();
    source.capabilities = { ...source.capabilities, valueStats: true };
    target.capabilities = { ...target.capabilities, checkValues: true, plannedDdl: true };
    target.checkValues = () => undefined;
    target.plannedDdl = async () => ['CREATE TABLE t (…)'];
    const stats = vi.spyOn(source, 'valueStats');
    const judge = vi.spyOn(target, 'checkValues');
    const plan = await planSync(config, { logger, source, target });
    expect(stats).toHaveBeenCalledTimes(1);
    expect(judge).toHaveBeenCalledTimes(1);
    expect(plan.ddl).toEqual(['CREATE TABLE t (…)']);
  });
});

describe('the copier and the applier rely on atomicCheckpoint', () => {
  it('refuse a target whose data and checkpoint do not commit together', () => {
    const source = new FakeSource();
    const target = new FakeTarget();
    target.capabilities = { ...target.capabilities, atomicCheckpoint: false };
    expect(() => copierOf(source, target)).toThrow('capabilities.atomicCheckpoint is false');
    expect(
      () => new StreamApplier({ source, target, tables: [TABLE], from: '0', sourceId: 'fake-source', convergence: new Convergence(), batchSize: 1, flushIntervalMs: 5, bufferBytes: 1 << 20, logger }),
    ).toThrow('capabilities.atomicCheckpoint is false');
  });
});
