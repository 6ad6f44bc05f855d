/**
 * Spatial values (core/values.ts): the canonical value of a MySQL/MariaDB spatial column
 * (GEOMETRY, POINT, …, GEOMETRYCOLLECTION) is a Buffer in MySQL's own storage format, the
 * 4-byte little-endian SRID followed by the OGC WKB of the geometry, little-endian (NDR)
 * throughout. The copy reads exactly these bytes (the text protocol sends a spatial column's
 * storage), the binlog carries them in its row images, and a MySQL target takes them back as
 * they are, so a value never passes through coordinates or text on its way.
 *
 * Other engines hold the same value as PostGIS's EWKB: the WKB with a flag in its type word and
 * the SRID after it (no flag, no SRID when the SRID is 0, which makes it plain WKB). This module
 * converts between the two and normalises either to one comparable form for checksums.
 */

/** EWKB's type-word flags (PostGIS liblwgeom): Z, M and "an SRID follows". */
const EWKB_Z = 0x80000000;
const EWKB_M = 0x40000000;
const EWKB_SRID = 0x20000000;

/** PostGIS's largest SRID (SRID_MAXIMUM): a larger one is changed on input, with a NOTICE. */
export const POSTGIS_MAX_SRID = 999999;

export class SpatialError extends Error {}

/** The SRID of a canonical spatial value. */
export function spatialSrid(v: Buffer): number {
  if (v.length < 9) throw new SpatialError(`a spatial value needs at least 9 bytes (SRID, byte order, type), got ${v.length}`);
  return v.readUInt32LE(0);
}

/**
 * The EWKB of a canonical spatial value: its WKB when the SRID is 0, else the WKB with the SRID
 * flag set in the outer type word and the SRID after it, in the WKB's own byte order.
 */
export function spatialToEwkb(v: Buffer): Buffer {
  const srid = spatialSrid(v);
  const wkb = v.subarray(4);
  if (srid === 0) return Buffer.from(wkb);
  const le = wkb[0] === 1;
  const out = Buffer.allocUnsafe(wkb.length + 4);
  out[0] = wkb[0] as number;
  const type = le ? wkb.readUInt32LE(1) : wkb.readUInt32BE(1);
  const flagged = (type | EWKB_SRID) >>> 0;
  if (le) {
    out.writeUInt32LE(flagged, 1);
    out.writeUInt32LE(srid, 5);
  } else {
    out.writeUInt32BE(flagged, 1);
    out.writeUInt32BE(srid, 5);
  }
  wkb.copy(out, 9, 5);
  return out;
}

/** Appends little-endian words and raw bytes: the output of the WKB walk below. */
class Writer {
  private buf: Buffer;
  private at = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(Math.max(16, size));
  }
  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(bigger, 0, 0, this.at);
    this.buf = bigger;
  }
  u8(x: number): void {
    this.room(1);
    this.buf[this.at++] = x;
  }
  u32(x: number): void {
    this.room(4);
    this.buf.writeUInt32LE(x >>> 0, this.at);
    this.at += 4;
  }
  f64(x: number): void {
    this.room(8);
    this.buf.writeDoubleLE(x, this.at);
    this.at += 8;
  }
  done(): Buffer {
    return this.buf.subarray(0, this.at);
  }
}

/** Reads one WKB/EWKB geometry at `at`, writing it little-endian without any SRID; returns the end and the SRID seen. */
function walk(src: Buffer, at: number, out: Writer, depth: number): { end: number; srid: number } {
  if (depth > 32) throw new SpatialError('geometry collections nested deeper than 32 levels');
  const need = (n: number) => {
    if (at + n > src.length) throw new SpatialError(`WKB ends at byte ${src.length}, inside a geometry`);
  };
  need(5);
  const order = src[at] as number;
  if (order !== 0 && order !== 1) throw new SpatialError(`byte ${at} is not a WKB byte order (0 or 1) but ${order}`);
  const le = order === 1;
  const u32 = () => {
    need(4);
    const x = le ? src.readUInt32LE(at) : src.readUInt32BE(at);
    at += 4;
    return x;
  };
  const f64 = () => {
    need(8);
    const x = le ? src.readDoubleLE(at) : src.readDoubleBE(at);
    at += 8;
    return x;
  };
  at += 1;
  const word = u32();
  let srid = 0;
  if (word & EWKB_SRID) srid = u32();
  const flags = word & (EWKB_Z | EWKB_M);
  const iso = word & 0x0fffffff;
  const base = iso % 1000;
  const isoDims = Math.floor(iso / 1000); // 1 Z, 2 M, 3 ZM
  const dims = 2 + (flags & EWKB_Z || isoDims === 1 || isoDims === 3 ? 1 : 0) + (flags & EWKB_M || isoDims === 2 || isoDims === 3 ? 1 : 0);
  out.u8(1);
  out.u32((word & ~EWKB_SRID) >>> 0);
  const points = (n: number) => {
    need(n * dims * 8);
    for (let i = 0; i < n * dims; i++) out.f64(f64());
  };
  switch (base) {
    case 1:
      points(1);
      break;
    case 2: {
      const n = u32();
      out.u32(n);
      points(n);
      break;
    }
    case 3: {
      const rings = u32();
      out.u32(rings);
      for (let r = 0; r < rings; r++) {
        const n = u32();
        out.u32(n);
        points(n);
      }
      break;
    }
    case 4:
    case 5:
    case 6:
    case 7: {
      const n = u32();
      out.u32(n);
      for (let i = 0; i < n; i++) at = walk(src, at, out, depth + 1).end;
      break;
    }
    default:
      throw new SpatialError(`WKB geometry type ${word >>> 0} is not one of the OGC types 1–7 (Point … GeometryCollection)`);
  }
  return { end: at, srid };
}

/**
 * A canonical spatial value from EWKB (or plain WKB, SRID 0), in either byte order: the SRID
 * moved in front and every word little-endian, as MySQL stores it. Throws a SpatialError for
 * bytes that are not one OGC geometry (types 1–7), or that go on after it.
 */
export function ewkbToSpatial(ewkb: Buffer): Buffer {
  const out = new Writer(ewkb.length + 4);
  out.u32(0);
  const { end, srid } = walk(ewkb, 0, out, 0);
  if (end !== ewkb.length) throw new SpatialError(`${ewkb.length - end} bytes follow the geometry`);
  const v = out.done();
  v.writeUInt32LE(srid >>> 0, 0);
  return v;
}

/** A canonical spatial value re-read (so a big-endian WKB compares with its little-endian twin). */
export function normaliseSpatial(v: Buffer): Buffer {
  const out = new Writer(v.length);
  out.u32(spatialSrid(v));
  const { end } = walk(v, 4, out, 0);
  if (end !== v.length) throw new SpatialError(`${v.length - end} bytes follow the geometry`);
  return out.done();
}
