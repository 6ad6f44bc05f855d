/**
 * The stream's readTuple (engines/postgres/stream.ts) against pg-logical-replication's own, on the
 * same pgoutput tuple bytes: the same values, in the relation's column order where the library keys
 * them by column name, for text (ASCII, multi-byte, invalid UTF-8, empty), binary, NULL and
 * unchanged-TOAST fields (taken from the old tuple, by position), the same error for an unknown kind
 * and a short message; and a text value starting with U+FEFF kept whole, which the library's
 * TextDecoder drops.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { readTuple } from '../../src/engines/postgres/stream.js';

const require = createRequire(import.meta.url);
const { BinaryReader } = require('pg-logical-replication/dist/output-plugins/pgoutput/binary-reader.js') as { BinaryReader: new (b: Buffer) => never };
const { PgoutputParser } = require('pg-logical-replication/dist/output-plugins/pgoutput/pgoutput-parser.js') as {
  PgoutputParser: new () => { readTuple(reader: unknown, rel: unknown, fallback?: unknown): Record<string, unknown> };
};

type Field = { t: Buffer | string } | { b: Buffer } | 'n' | 'u';

function tupleBytes(fields: readonly Field[]): Buffer {
  const parts: Buffer[] = [Buffer.from([fields.length >> 8, fields.length & 0xff])];
  for (const f of fields) {
    if (f === 'n' || f === 'u') {
      parts.push(Buffer.from(f));
      continue;
    }
    const [kind, data] = 't' in f ? ['t', Buffer.isBuffer(f.t) ? f.t : Buffer.from(f.t, 'utf8')] : ['b', f.b];
    const len = Buffer.alloc(4);
    len.writeInt32BE(data.length);
    parts.push(Buffer.from(kind), len, data);
  }
  return Buffer.concat(parts);
}

const relation = (n: number) => ({ columns: Array.from({ length: n }, (_, i) => ({ name: `c${i}`, parser: (v: unknown) => v })) });

/** Ours (an array) and the library's (an object keyed by name) read from the same bytes, the library's put in column order. */
function both(bytes: Buffer, n: number, fallback?: unknown[]) {
  const rel = relation(n);
  const ours = readTuple(new BinaryReader(bytes) as never, rel, fallback);
  const byName = fallback ? Object.fromEntries(rel.columns.map((c, i) => [c.name, fallback[i]])) : undefined;
  const theirsByName = new PgoutputParser().readTuple(new BinaryReader(bytes), rel, byName);
  const theirs = rel.columns.map((c) => theirsByName[c.name]);
  return { ours, theirs };
}

describe('readTuple', () => {
  it('reads every kind of field as the library does', () => {
    const fields: Field[] = [
      { t: 'plain' },
      { t: 'café😀 ü' },
      { t: '' },
      { t: Buffer.from([0x61, 0xff, 0x62, 0xe2, 0x82, 0x63]) },
      { b: Buffer.from([0, 1, 2, 255]) },
      'n',
      'u',
      { t: 'x'.repeat(70_000) },
    ];
    const old = fields.map((_, i) => (i === 6 ? 'kept from the old row' : `old ${i}`));
    const { ours, theirs } = both(tupleBytes(fields), fields.length, old);
    expect(ours).toEqual(theirs);
    expect(ours[6]).toBe('kept from the old row');
    expect(ours).toHaveLength(fields.length);
  });

  it('keeps a leading U+FEFF that the library drops', () => {
    const { ours, theirs } = both(tupleBytes([{ t: '\uFEFFbom' }, { t: 'a\uFEFF' }]), 2);
    expect(ours).toEqual(['\uFEFFbom', 'a\uFEFF']);
    expect(theirs[0]).toBe('bom');
  });

  it('fails as the library does on an unknown kind and on a message cut short', () => {
    const unknown = Buffer.concat([tupleBytes([{ t: 'a' }]).subarray(0, 2), Buffer.from('z')]);
    expect(() => both(unknown, 1).ours).toThrow('unknown attribute kind z');
    const short = tupleBytes([{ t: 'abcdef' }]).subarray(0, 9);
    expect(() => readTuple(new BinaryReader(short) as never, relation(1))).toThrow('unexpected end of message');
    expect(() => new PgoutputParser().readTuple(new BinaryReader(short), relation(1))).toThrow('unexpected end of message');
  });
});
