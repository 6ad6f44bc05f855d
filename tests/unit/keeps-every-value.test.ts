/**
 * core/logical.ts keepsEveryValue: whether a column's type change keeps every value as it was,
 * which decides whether a target storing values without types (etcd) must read the table again.
 */
import { describe, expect, it } from 'vitest';
import { keepsEveryValue, type LogicalType } from '../../src/core/logical.js';

const int = (bytes: 1 | 2 | 3 | 4 | 8, signed = true): LogicalType => ({ kind: 'integer', bytes, signed });

describe('keepsEveryValue', () => {
  it('holds for the same type, wider integers, longer strings, more digits before the point and labels appended', () => {
    // (A string type without a length is judged by the caller, who knows the native type: engines/etcd/ddl.ts.)
    const cases: [LogicalType, LogicalType][] = [
      [int(4), int(4)],
      [int(4), int(8)],
      [int(4, false), int(8)],
      [{ kind: 'text', length: 10, fixed: false, charset: 'utf8mb4' }, { kind: 'text', length: 20, fixed: false, charset: 'utf8mb4', collation: 'utf8mb4_bin' }],
      [{ kind: 'decimal', precision: 10, scale: 2 }, { kind: 'decimal', precision: 12, scale: 2 }],
      [{ kind: 'enum', labels: ['a', 'b'] }, { kind: 'enum', labels: ['a', 'b', 'c'] }],
      [{ kind: 'set', labels: ['a'] }, { kind: 'set', labels: ['a', 'b'] }],
      [{ kind: 'bit', length: 4, varying: true }, { kind: 'bit', length: 8, varying: true }],
    ];
    for (const [b, a] of cases) expect(keepsEveryValue(b, a), `${JSON.stringify(b)} → ${JSON.stringify(a)}`).toBe(true);
  });

  it('fails for narrower or re-signed integers, shorter or re-encoded strings, padded types, another scale, floats widened, labels reordered and kinds changed', () => {
    const cases: [LogicalType, LogicalType][] = [
      [int(8), int(4)],
      [int(4), int(4, false)],
      [int(4, false), int(4)],
      [{ kind: 'text', length: 20, fixed: false }, { kind: 'text', length: 10, fixed: false }],
      [{ kind: 'text', length: 10, fixed: false, charset: 'utf8mb4' }, { kind: 'text', length: 10, fixed: false, charset: 'latin1' }],
      [{ kind: 'text', length: 10, fixed: true }, { kind: 'text', length: 10, fixed: false }],
      [{ kind: 'text', fixed: false }, { kind: 'text', length: 100, fixed: false }],
      // Sizes not in the logical type (VARCHAR(300) → TINYTEXT truncates): not known to keep.
      [{ kind: 'text', length: 10, fixed: false }, { kind: 'text', fixed: false }],
      [{ kind: 'binary', length: 4, fixed: false }, { kind: 'binary', fixed: false }],
      [{ kind: 'binary', length: 4, fixed: true }, { kind: 'binary', length: 8, fixed: true }],
      [{ kind: 'decimal', precision: 10, scale: 2 }, { kind: 'decimal', precision: 12, scale: 3 }],
      [{ kind: 'float', bits: 32 }, { kind: 'float', bits: 64 }],
      [{ kind: 'enum', labels: ['a', 'b'] }, { kind: 'enum', labels: ['b', 'a'] }],
      [{ kind: 'bit', length: 4, varying: false }, { kind: 'bit', length: 8, varying: false }],
      [int(4), { kind: 'text', length: 20, fixed: false }],
      [{ kind: 'other', native: 'money' }, { kind: 'other', native: 'numeric' }],
    ];
    for (const [b, a] of cases) expect(keepsEveryValue(b, a), `${JSON.stringify(b)} → ${JSON.stringify(a)}`).toBe(false);
  });
});
