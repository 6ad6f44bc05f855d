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

describe("MariaDB's UUID and INET6 from their binlog bytes, printed as the server prints them", () => {
  it('prints a UUID as 8-4-4-4-12 hex and an IPv6 address in its shortest form, IPv4-compatible and -mapped ones dotted', async () => {
    const { inet6Text, uuidText } = await import('../../src/engines/mysql/values.js');
    expect(uuidText(Buffer.from('123e4567e89b12d3a456426614174000', 'hex'))).toBe('123e4567-e89b-12d3-a456-426614174000');
    const ip = (hex: string) => inet6Text(Buffer.from(hex, 'hex'));
    expect(ip('00000000000000000000000000000000')).toBe('::');
    expect(ip('00000000000000000000000000000001')).toBe('::1');
    expect(ip('0000000000000000000000000a000001')).toBe('::10.0.0.1');
    expect(ip('00000000000000000000ffff0a000001')).toBe('::ffff:10.0.0.1');
    expect(ip('20010db8000000000000000000000001')).toBe('2001:db8::1');
    expect(ip('00010002000300040005000600070008')).toBe('1:2:3:4:5:6:7:8');
    expect(ip('00010000000000020000000000000003')).toBe('1:0:0:2::3');
    expect(ip('00010000000200000000000000000003')).toBe('1:0:2::3');
    expect(ip('00010000000200030000000000000000')).toBe('1:0:2:3::');
  });
});
