/**
 * docs/type-mapping.md's tables are generated from the code (scripts/type-mapping.ts, issue 11):
 * this test renders them again in memory and fails when the doc differs, and checks that the
 * hand-picked logical types of its "logical → native" tables cover every answer the corpus gets.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LogicalType } from '../../src/core/logical.js';
import { fromLogical as mysqlFromLogical, toLogical as mysqlToLogical, type MysqlFlavour } from '../../src/engines/mysql/types.js';
import { fromLogical as postgresFromLogical, toLogical as postgresToLogical } from '../../src/engines/postgres/types.js';
import { describeLogical, LOGICAL_KINDS } from '../../scripts/describe-logical.js';
import { blocksOf, BLOCKS, DOC, REGENERATE, renderBlocks, VARIANTS, type Variant } from '../../scripts/type-mapping.js';
import { corpusTables } from '../helpers/types-corpus.js';

const ROOT = resolve(import.meta.dirname, '../..');

describe('docs/type-mapping.md', () => {
  const doc = readFileSync(DOC, 'utf8');
  const written = blocksOf(doc);
  const rendered = renderBlocks();

  it.each(Object.keys(BLOCKS))('block %s is what the code gives', (name) => {
    expect(written.get(name), `docs/type-mapping.md's generated block '${name}' differs from the code: run ${REGENERATE}`).toBe(rendered.get(name));
  });

  it('names only source files that exist', () => {
    const paths = [...doc.matchAll(/`((?:src|tests|scripts)\/[\w./-]+\.(?:ts|json))`/g)].map((m) => m[1] as string);
    expect(paths.length).toBeGreaterThan(5);
    expect(paths.filter((p) => !existsSync(join(ROOT, p)))).toEqual([]);
  });
});

/** What only a parameter changes in an answer folded: numbers, quoted labels, identifiers and PostGIS subtypes. */
function shape(sql: string): string {
  return sql
    .replace(/geometry\([A-Za-z]+/g, 'geometry(Subtype')
    .replace(/'(?:[^']|'')*'/g, "'…'")
    .replace(/'…'(?:,\s*'…')*/g, "'…'")
    .replace(/"[^"]*"|`[^`]*`/g, '"…"')
    .replace(/\d+/g, '#');
}

function mysqlShape(logical: LogicalType, enumLabels?: ReadonlyMap<string, readonly string[]>): string {
  const flavours: MysqlFlavour[] = ['mariadb', 'mysql'];
  const answers = flavours.map((flavour) => {
    const t = mysqlFromLogical(logical, { flavour, ...(enumLabels ? { enumLabels } : {}) }, { name: 'col', declared: 'x' });
    return t.refusal ? 'refused' : shape(t.sql);
  });
  return `${logical.kind}: ${answers.join(' / ')}`;
}

function postgresShape(logical: LogicalType): string {
  const answers = [{ zeroDates: 'error' as const }, { zeroDates: 'null' as const, postgis: 'public' }].map((opts) => {
    const t = postgresFromLogical(logical, opts);
    return t ? `${shape(t.sql)}${t.check ? ` CHECK ${shape(t.check('col'))}` : ''}${t.forceNullable ? ' nullable' : ''}` : 'refused';
  });
  return `${logical.kind}: ${answers.join(' / ')}`;
}

describe('the logical → native tables', () => {
  const variantShapes = (f: (v: Variant) => string) => new Set(VARIANTS.map(f));

  it('list every logical kind', () => {
    const kinds = new Set(VARIANTS.map((v) => v.logical.kind));
    expect(LOGICAL_KINDS.filter((k) => !kinds.has(k))).toEqual([]);
  });

  it('cover every answer a PostgreSQL column of the corpus gets from MySQL', () => {
    const covered = variantShapes((v) => mysqlShape(v.logical, v.enumLabels));
    const missing = new Set<string>();
    for (const { table } of corpusTables().filter((t) => t.table.engine === 'postgres')) {
      for (const c of table.columns) {
        const s = mysqlShape(postgresToLogical(c));
        if (!covered.has(s)) missing.add(`${c.columnType} (${describeLogical(postgresToLogical(c))}) → ${s}`);
      }
    }
    expect([...missing], 'add a logical type with this answer to VARIANTS in scripts/type-mapping.ts').toEqual([]);
  });

  it('cover every answer a MySQL column of the corpus gets from PostgreSQL', () => {
    const covered = variantShapes((v) => postgresShape(v.logical));
    const missing = new Set<string>();
    for (const { table } of corpusTables().filter((t) => t.table.engine === 'mysql')) {
      for (const c of table.columns) {
        const s = postgresShape(mysqlToLogical(c, table));
        if (!covered.has(s)) missing.add(`${c.columnType} (${describeLogical(mysqlToLogical(c, table))}) → ${s}`);
      }
    }
    expect([...missing], 'add a logical type with this answer to VARIANTS in scripts/type-mapping.ts').toEqual([]);
  });
});

describe('describeLogical', () => {
  it('gives distinct words to distinct logical types of the corpus', () => {
    const byWords = new Map<string, string>();
    const clashes: string[] = [];
    for (const { table } of corpusTables()) {
      for (const c of table.columns) {
        const logical = table.engine === 'mysql' ? mysqlToLogical(c, table) : postgresToLogical(c);
        const words = describeLogical(logical);
        const json = JSON.stringify(logical);
        const seen = byWords.get(words);
        if (seen !== undefined && seen !== json) clashes.push(`${words}: ${seen} / ${json}`);
        byWords.set(words, json);
      }
    }
    expect(clashes).toEqual([]);
    expect(byWords.size).toBeGreaterThan(100);
  });
});
