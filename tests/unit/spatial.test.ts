/**
 * Spatial values without a server: the canonical form (SRID + WKB) and its EWKB, the WKB walk
 * that normalises byte order, the checksum rule, the PostgreSQL rendering with its refusals, the
 * type map, and the binlog table-map re-typing that makes zongji hand over the stored bytes.
 */
import { describe, expect, it } from 'vitest';
import { columnRule } from '../../src/checksum/normalise.js';
import type { Column, TableSchema } from '../../src/core/schema.js';
import { ewkbToSpatial, normaliseSpatial, SpatialError, spatialSrid, spatialToEwkb } from '../../src/core/spatial.js';
import { tsvKind } from '../../src/engines/mysql/load.js';
import { toLogical as mysqlToLogical, withLogical } from '../../src/engines/mysql/types.js';
import { codecFor, keepSpatialBytes } from '../../src/engines/mysql/values.js';
import { pgText, ValueError, type TargetColumn } from '../../src/engines/postgres/sql.js';
import { postgresColumnType, toLogical as postgresToLogical } from '../../src/engines/postgres/types.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** POINT(1 2), SRID 4326, as MariaDB stores it (HEX(col)). */
const POINT_4326 = hex('E6100000 01 01000000 000000000000F03F 0000000000000040');
/** Its EWKB, as PostGIS prints 'SRID=4326;POINT(1 2)'::geometry. */
const POINT_4326_EWKB = hex('01 01000020 E6100000 000000000000F03F 0000000000000040');
/** GEOMETRYCOLLECTION EMPTY, SRID 0. */
const EMPTY_GC = hex('00000000 01 07000000 00000000');
/** GEOMETRYCOLLECTION(POINT(1 2), LINESTRING(0 0,1 1)), SRID 3857. */
const GC_3857 = hex(
  '110F0000 01 07000000 02000000' + ' 01 01000000 000000000000F03F 0000000000000040' + ' 01 02000000 02000000 0000000000000000 0000000000000000 000000000000F03F 000000000000F03F',
);

const col = (dataType: string, extra: Partial<Column> = {}): Column => ({ name: 'g', dataType, columnType: dataType, nullable: true, unsigned: false, ...extra });
const table = (c: Column): TableSchema => ({ name: 'geo', columns: [col('int'), c], primaryKey: [0], generated: [], engine: 'mysql' });

describe('canonical spatial values and EWKB', () => {
  it('writes the SRID into the EWKB type word and after it, and reads it back', () => {
    expect(spatialSrid(POINT_4326)).toBe(4326);
    expect(spatialToEwkb(POINT_4326).equals(POINT_4326_EWKB)).toBe(true);
    expect(ewkbToSpatial(POINT_4326_EWKB).equals(POINT_4326)).toBe(true);
    const gc = spatialToEwkb(GC_3857);
    expect(gc.subarray(0, 9).toString('hex')).toBe('0107000020110f0000');
    expect(ewkbToSpatial(gc).equals(GC_3857)).toBe(true);
  });

  it('leaves SRID 0 as the OGC WKB itself, empty collections included', () => {
    expect(spatialToEwkb(EMPTY_GC).equals(EMPTY_GC.subarray(4))).toBe(true);
    expect(ewkbToSpatial(EMPTY_GC.subarray(4)).equals(EMPTY_GC)).toBe(true);
  });

  it('reads big-endian WKB into the little-endian form MySQL stores', () => {
    // 'SRID=4326;POINT(1 2)' as XDR EWKB.
    const xdr = hex('00 20000001 000010E6 3FF0000000000000 4000000000000000');
    expect(ewkbToSpatial(xdr).equals(POINT_4326)).toBe(true);
    // A little-endian collection holding a big-endian point: every word comes out little-endian.
    const mixed = hex('00000000 01 04000000 01000000 00 00000001 3FF0000000000000 4000000000000000');
    expect(normaliseSpatial(mixed).toString('hex')).toBe('00000000' + '0104000000' + '01000000' + '0101000000' + '000000000000f03f' + '0000000000000040');
  });

  it('refuses bytes that are not one geometry', () => {
    expect(() => ewkbToSpatial(hex('01 01000000 000000000000F03F'))).toThrow(SpatialError); // a point cut short
    expect(() => ewkbToSpatial(Buffer.concat([POINT_4326_EWKB, hex('00')]))).toThrow(/1 bytes follow/);
    expect(() => ewkbToSpatial(hex('01 08000000 00000000'))).toThrow(/not one of the OGC types/); // CircularString
    expect(() => ewkbToSpatial(hex('02 01000000'))).toThrow(/byte order/);
  });
});

describe('checksum rule for spatial columns', () => {
  // Columns as each engine's describe gives them: with their logical types.
  const source = col('point');
  const rule = (target: Column) =>
    columnRule({ column: { ...source, logical: mysqlToLogical(source) }, engine: 'mysql' }, { column: { ...target, logical: postgresToLogical(target) }, engine: 'postgres' }, { zeroDates: 'error' });

  it('compares a MySQL value with its PostGIS hex and its bytea EWKB as SRID + WKB', () => {
    const geometry = rule(col('geometry', { columnType: 'geometry(Point,4326)' }));
    expect(geometry.name).toBe('spatial');
    expect(geometry.source(POINT_4326)).toEqual(geometry.target(POINT_4326_EWKB.toString('hex').toUpperCase()));
    const bytea = rule(col('bytea'));
    expect(bytea.source(POINT_4326)).toEqual(bytea.target(POINT_4326_EWKB));
    expect(bytea.source(EMPTY_GC)).toEqual(bytea.target(EMPTY_GC.subarray(4)));
  });

  it('tells apart a changed coordinate, a changed SRID and bytes that do not parse', () => {
    const r = rule(col('geometry'));
    const moved = Buffer.from(POINT_4326_EWKB);
    moved[moved.length - 1] = (moved[moved.length - 1] as number) ^ 1;
    expect(r.source(POINT_4326)).not.toEqual(r.target(moved));
    const srid0 = spatialToEwkb(Buffer.concat([hex('00000000'), POINT_4326.subarray(4)]));
    expect(r.source(POINT_4326)).not.toEqual(r.target(srid0));
    expect(r.target('not hex')).toBe('not hex');
  });
});

describe('PostgreSQL rendering of spatial values', () => {
  const target = (sqlType: string, kind: TargetColumn['kind'] = 'text'): TargetColumn => ({ name: 'g', sqlType, kind, spatial: true });

  it('writes the EWKB: hex for geometry (and text), bytes for bytea', () => {
    expect(pgText(POINT_4326, target('geometry'), 'error')).toBe(POINT_4326_EWKB.toString('hex'));
    expect(pgText(POINT_4326, target('geometry(Point,4326)'), 'error')).toBe(POINT_4326_EWKB.toString('hex'));
    expect(pgText(POINT_4326, target('bytea', 'bytea'), 'error')).toBe('\\x' + POINT_4326_EWKB.toString('hex'));
    expect(pgText(null, target('geometry'), 'error')).toBeNull();
  });

  it('refuses by name what PostGIS would refuse or change: another SRID than the column declares, an SRID above 999999', () => {
    const srid0 = Buffer.concat([hex('00000000'), POINT_4326.subarray(4)]);
    expect(() => pgText(srid0, target('geometry(Point,4326)'), 'error')).toThrow(ValueError);
    expect(() => pgText(srid0, target('geometry(Point,4326)'), 'error')).toThrow(/SRID 0 is not the SRID 4326 of the column/);
    const big = Buffer.from(POINT_4326);
    big.writeUInt32LE(1_000_000, 0);
    expect(() => pgText(big, target('geometry'), 'error')).toThrow(/SRID 1000000 is above PostGIS's largest/);
    // bytea holds any SRID.
    expect(pgText(big, target('bytea', 'bytea'), 'error')).toMatch(/^\\x0101000020/);
    expect(() => pgText(hex('00'), target('geometry'), 'error')).toThrow(/is not a spatial value/);
  });
});

describe('type map of spatial columns into PostgreSQL', () => {
  /** The PostgreSQL target's type of `c`, described as the MySQL engine describes it (with its logical type). */
  const map = (c: Column, postgis?: string) => {
    const t = withLogical(table(c));
    return postgresColumnType(t, t.columns[1] as Column, { zeroDates: 'error', columnTypes: {}, ...(postgis ? { postgis } : {}) }).sql;
  };

  it('is PostGIS geometry, constrained like the MySQL type, with the declared SRID', () => {
    expect(map(col('point'), 'public')).toBe('"public".geometry(Point)');
    expect(map(col('multipolygon', { srid: 4326 }), 'public')).toBe('"public".geometry(MultiPolygon,4326)');
    expect(map(col('geometry'), 'gis')).toBe('"gis".geometry');
    expect(map(col('geometrycollection'), 'public')).toBe('"public".geometry');
    expect(map(col('geometrycollection', { srid: 3857 }), 'public')).toBe('"public".geometry(Geometry,3857)');
  });

  it('is bytea without PostGIS', () => {
    for (const t of ['geometry', 'point', 'linestring', 'polygon', 'multipoint', 'multilinestring', 'multipolygon', 'geometrycollection']) expect(map(col(t))).toBe('bytea');
  });
});

describe('MySQL source side', () => {
  it('reads spatial columns as their stored bytes on both paths and writes them to LOAD DATA as hex', () => {
    const codec = codecFor(col('point'), '`g`');
    expect(codec.fromText(POINT_4326)).toBe(POINT_4326);
    expect(codec.fromBinlog(POINT_4326)).toBe(POINT_4326);
    expect(codec.fromBinlog(null)).toBeNull();
    // zongji's own decoding, which keepSpatialBytes must have turned off.
    expect(() => codec.fromBinlog({ x: 1, y: 2 })).toThrow(/arrived from the binlog decoded/);
    expect(tsvKind(col('geometrycollection'))).toBe('hex');
  });

  it('re-types the table map so zongji reads spatial columns as BLOBs without a charset', () => {
    const entry = {
      columns: [
        { type: 3, charset: null },
        { type: 255, charset: 'utf8mb4' },
        { type: 252, charset: 'utf8mb4' },
      ],
    };
    keepSpatialBytes(entry);
    expect(entry.columns).toEqual([
      { type: 3, charset: null },
      { type: 252, charset: null },
      { type: 252, charset: 'utf8mb4' },
    ]);
    keepSpatialBytes(undefined);
    keepSpatialBytes({});
  });
});
