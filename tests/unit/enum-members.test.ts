/**
 * The labels of a MySQL ENUM/SET as COLUMN_TYPE spells them (engines/mysql/chunks.ts enumMembers,
 * which toLogical and the keyset comparisons use; typemap's regex reader, which the PostgreSQL
 * target's CHECK came from before issue 11, read the same cases alike and is gone).
 */
import { describe, expect, it } from 'vitest';
import { enumMembers } from '../../src/engines/mysql/chunks.js';

/** What MariaDB 10.11 prints in COLUMN_TYPE for the labels it's / a,b / é / with space / back\slash / say "hi" / plain (tests/fixtures/types-corpus.json). */
const SERVER = `enum('it''s','a,b','é','with space','back\\\\slash','say "hi"','plain')`;

describe('enumMembers of COLUMN_TYPE', () => {
  it('reads quotes doubled, commas inside labels, ENUM and SET', () => {
    expect(enumMembers("enum('a','b,c','it''s')")).toEqual(['a', 'b,c', "it's"]);
    expect(enumMembers("set('x','y')")).toEqual(['x', 'y']);
  });

  it('reads a backslash as the server escapes it (\\\\)', () => {
    expect(enumMembers(SERVER)).toEqual(["it's", 'a,b', 'é', 'with space', 'back\\slash', 'say "hi"', 'plain']);
  });
});
