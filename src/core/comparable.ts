/**
 * Comparable forms: one text per column value that every engine's server can render, so that two
 * engines digest one chunk alike (ChangeSource.chunkDigest and Target.chunkDigest with `forms`,
 * digest format COMPARABLE_DIGEST) exactly when the checksum's row comparison (checksum/normalise.ts,
 * the column rules) would find the chunk's rows equal. A rule names the form that carries its
 * comparison; a table with any column whose rule names none is compared by its rows.
 *
 * What each engine must hold to: its rendering of a value in a form is the text below, the same
 * bytes whichever engine renders it, and two values the rule tells apart never render alike. An
 * engine that cannot render a column in the form asked (its type, or a session setting the text
 * would depend on) returns no digest; the chunk is then read as rows.
 *
 * | form | text of a value |
 * |---|---|
 * | int | decimal digits, '-' before a negative; a boolean as 1 / 0; a YEAR as its number |
 * | decimal | the shortest exact decimal: no '+', no leading zeros, no trailing fraction zeros, no '.' without digits after it, zero as '0' |
 * | float | a 64-bit float's shortest round-trip digits as the server prints them, with 'e' before an exponent ('1e20', never '1e+20'); a value both engines print differently (PostgreSQL '1e-05', MariaDB '0.00001') digests apart and is compared by its rows |
 * | text | the UTF-8 bytes of the text |
 * | char | the UTF-8 bytes of the text without trailing spaces (CHAR padding) |
 * | bytes | lowercase hex of the bytes |
 * | date | 'YYYY-MM-DD' |
 * | datetime | 'YYYY-MM-DD HH:MM:SS[.f]', fraction digits without trailing zeros |
 * | instant | the instant in UTC as a datetime, without a zone |
 *
 * A row is its fields joined by ',': NULL as 'N'; int, decimal, float, bytes, date, datetime and
 * instant bare (their texts never hold ',' and are never 'N'); text and char as `length:bytes`, the
 * length in bytes (so 'a,b' + 'c' and 'a' + 'b,c', or 'N' and NULL, render apart). The digest is the
 * row count and the sum, as an exact integer, of the first 15 hex digits (60 bits) of each row's MD5:
 * two chunks that differ digest alike with a chance of about 2^-60.
 */
export type ComparableForm = 'int' | 'decimal' | 'float' | 'text' | 'char' | 'bytes' | 'date' | 'datetime' | 'instant';

/** ChunkDigest.format of a digest in comparable forms: equal for every engine, so two engines' digests compare. */
export const COMPARABLE_DIGEST = 'comparable-md5-v1';
