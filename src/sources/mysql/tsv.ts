import type { Column, TableSchema } from '../../core/schema.js';
import { isMysqlSpatial } from '../../core/spatial.js';
import { quoteId } from '../../engines/mysql/connection.js';

/** How a column's value is written in a MYSQL_TSV line (core/formats.ts), as the server renders it. */
export type TsvKind = 'text' | 'hex' | 'num' | 'year';

export function tsvKind(c: Column): TsvKind {
  // Spatial values travel as their stored bytes (SRID + WKB), which both servers take back as the
  // column's value (UNHEX gives a binary string in that format).
  if (c.charset === 'binary' || /binary|blob/.test(c.dataType) || isMysqlSpatial(c.dataType)) return 'hex';
  if (c.dataType === 'bit') return 'num';
  if (c.dataType === 'year') return 'year';
  return 'text';
}

/**
 * Whether a column's value is text whose LOAD DATA escapes the select must write. MySQL 8's JSON
 * has no charset in the catalogue (MariaDB's JSON is a utf8mb4 LONGTEXT), yet its text holds
 * backslashes (every escape inside a JSON string), tabs and newlines like any other text.
 */
function isCharacter(c: Column): boolean {
  return (c.charset !== undefined && c.charset !== 'binary') || c.dataType === 'json';
}

/**
 * A select expression that renders one row as its LOAD DATA line on the source server, so a
 * MySQL → MySQL copy moves each row as one string, without decoding and re-encoding ten values
 * in JavaScript. The values are the ones the canonical path produces: FLOAT as its exact double,
 * TIMESTAMP in the session's UTC, YEAR 0000 as '0000'.
 */
export function tsvSelect(table: TableSchema): string {
  const fields = table.columns.map((c) => {
    const q = quoteId(c.name);
    let e: string;
    switch (tsvKind(c)) {
      case 'hex':
        e = `HEX(${q})`;
        break;
      case 'num':
        e = `CAST(${q} AS UNSIGNED)`;
        break;
      case 'year':
        e = `LPAD(${q} + 0, 4, '0')`;
        break;
      default:
        if (c.dataType === 'float') e = `CAST(${q} AS DOUBLE)`;
        else if (isCharacter(c)) {
          e = `REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(CONVERT(${q} USING utf8mb4), '\\\\', '\\\\\\\\'), '\\t', '\\\\t'), '\\n', '\\\\n'), '\\r', '\\\\r'), CHAR(0 USING utf8mb4), '\\\\0')`;
        } else e = q;
    }
    return `IFNULL(${e}, '\\\\N')`;
  });
  return fields.length === 1 ? `CONCAT(${fields[0]})` : `CONCAT_WS('\\t', ${fields.join(', ')})`;
}
