import { describe, expect, it } from 'vitest';
import { fixNegativeTime } from '../../src/engines/mysql/values.js';
import { decodeValues, encodeValues } from '../../src/core/values.js';

describe('fixNegativeTime (zongji negative TIME carry)', () => {
  it('repairs the carries of whole minutes and hours', () => {
    expect(fixNegativeTime('-11:63:64')).toBe('-12:00:00');
    expect(fixNegativeTime('-00:00:64')).toBe('-00:01:00');
    expect(fixNegativeTime('-837:63:64')).toBe('-838:00:00');
  });
  it('leaves correct values alone', () => {
    for (const v of ['-838:59:59', '-00:00:01', '12:00:00', '-00:00:01.500000', '-12:00:00']) expect(fixNegativeTime(v)).toBe(v);
  });
});

describe('checkpoint value codec', () => {
  it('keeps bigint, Buffer, numbers, strings and null apart', () => {
    const vals = [18446744073709551615n, Buffer.from([0, 255]), 1.5, '1.5', null, '', -0.0];
    const back = decodeValues(encodeValues(vals));
    expect(back[0]).toBe(18446744073709551615n);
    expect(Buffer.isBuffer(back[1]) && (back[1] as Buffer).equals(Buffer.from([0, 255]))).toBe(true);
    expect(back.slice(2, 6)).toEqual([1.5, '1.5', null, '']);
  });
});
