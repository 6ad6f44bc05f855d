/**
 * Proleptic Gregorian calendar arithmetic on plain numbers (H. Hinnant's civil-date algorithms),
 * for moving timestamps between zones without a JS Date (which drops microseconds and applies the
 * process time zone).
 */

/** Days since 1970-01-01 of the date y-m-d. */
export function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** The date [year, month, day] that is `z` days after 1970-01-01. */
export function civilFromDays(z: number): [number, number, number] {
  z += 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp + (mp < 10 ? 3 : -9);
  return [era * 400 + yoe + (m <= 2 ? 1 : 0), m, d];
}

/** Two digits, zero-padded. */
export const p2 = (n: number): string => String(n).padStart(2, '0');

/**
 * A proleptic Gregorian date and time `seconds` later (earlier when negative), whole seconds:
 * [year, month, day, hour, minute, second]. Shifts a wall-clock time by a UTC offset.
 */
export function addSeconds(y: number, mo: number, d: number, h: number, mi: number, se: number, seconds: number): [number, number, number, number, number, number] {
  const t = daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se + seconds;
  const days = Math.floor(t / 86400);
  const sec = t - days * 86400;
  return [...civilFromDays(days), Math.floor(sec / 3600), Math.floor((sec % 3600) / 60), sec % 60];
}

/**
 * A MySQL date or datetime (as MySQL prints it) with no place in a proleptic calendar: the zero
 * date '0000-00-00' and dates with a zero month or day ('2024-00-15'), which MySQL accepts outside
 * NO_ZERO_IN_DATE. Other engines cannot hold them: `--zero-dates` says what a target makes of them.
 */
export function isZeroDate(s: string): boolean {
  return /^\d{4}-00-|^\d{4}-\d\d-00|^0000-/.test(s);
}
