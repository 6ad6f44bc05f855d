import { ErrorCode, TributaryError } from '../../core/errors.js';
import { utf8 } from '../../core/slab.js';
import { encodedPutsOp, MAX_TXN_BYTES, putOp, type Op } from './apply.js';
import { encodePuts } from './wire.js';

const TAB = 0x09;
const NEWLINE = 0x0a;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;

/**
 * The copy's bulk load into etcd: a chunk in ETCD_JSON_LINES (core/formats.ts; one line per row,
 * the key's integer values each followed by a tab, then the row's JSON object, as the source
 * rendered it) becomes its puts, encoded straight from the chunk's bytes into etcd's wire format
 * (wire.ts encodePuts): no key, value or op object per row. Measured (bench/etcd.ts, bench/README.md)
 * against one putOp per line: ~3 µs of CPU less a row.
 *
 * A row's key is the table's prefix and its key values' text joined by '/', as KeyLayout.rowKey
 * gives for integers. A key value whose text is not the integer's canonical digits (a ZEROFILL
 * column's leading zeros) takes rowKey's own path, as does a row too large for one transaction
 * (putOp refuses it by name).
 */
export interface LineLoad {
  /** Each line's key: `keyOf` of its key values, for the lines that take rowKey's path. */
  readonly keyOf: (key: readonly bigint[]) => string;
  /** `<root>/<table>/`: the start of each row's key (KeyLayout.tablePrefix). */
  readonly prefix: string;
  /** The key's columns: the tab-ended values leading each line. */
  readonly parts: number;
  /** The puts one encoded op holds at most: a transaction's ops less those kept for the checkpoint. */
  readonly room: number;
  /** What the copy is doing, for messages. */
  readonly what: string;
}

/**
 * Calls `put` with the ops of a chunk's lines in order, a run of plain lines as one encoded op
 * of at most `room` puts and MAX_TXN_BYTES, and awaits what it returns (a transaction handed over).
 */
export async function loadLines(data: Buffer, load: LineLoad, put: (op: Op) => Promise<void> | undefined): Promise<void> {
  const prefix = utf8(load.prefix);
  const room = Math.max(1, load.room);
  // Per put of the run: the key's start and end (its last tab) and the line's end.
  const spans = new Int32Array(3 * room);
  let n = 0;
  let bytes = 0;
  let firstKey = '';
  const key: bigint[] = new Array<bigint>(load.parts);

  const flush = (): Promise<void> | undefined => {
    if (n === 0) return undefined;
    const op = encodedPutsOp(firstKey, encodePuts(prefix, data, spans, n, load.parts > 1 ? TAB : -1), n, bytes);
    n = 0;
    bytes = 0;
    return put(op);
  };

  for (let at = 0; at < data.length; ) {
    const start = at;
    let canonical = true;
    for (let k = 0; k < load.parts; k++) {
      // -?[1-9][0-9]* or 0: the digits rowKey gives for the value.
      const from = at;
      if (data[at] === MINUS) at++;
      const first = at;
      let c = data[at];
      while (c !== undefined && c >= ZERO && c <= NINE) c = data[++at];
      if (c !== TAB) {
        const line = JSON.stringify(data.toString('utf8', start, Math.min(data.length, start + 80)));
        throw new TributaryError(ErrorCode.TARGET_WRITE_FAILED, `${load.what}: a line of the chunk has ${k} of the key's ${load.parts} integer values (it begins ${line}; the source rendered it otherwise than ETCD_JSON_LINES, a source bug)`);
      }
      if (at === first || (data[first] === ZERO && (at - first > 1 || first > from))) canonical = false;
      at++;
    }
    const keyEnd = at - 1;
    let end = data.indexOf(NEWLINE, at);
    if (end === -1) end = data.length;
    const keyLength = prefix.length + keyEnd - start;
    const putBytes = keyLength + (end - at) + 16;
    if (!canonical || putBytes > MAX_TXN_BYTES) {
      // rowKey's own text of the values (and putOp's refusal of a row too large).
      let from = start;
      for (let k = 0; k < load.parts; k++) {
        const tab = data.indexOf(TAB, from);
        key[k] = BigInt(data.toString('latin1', from, tab));
        from = tab + 1;
      }
      const op = putOp(load.keyOf(key), data.subarray(at, end));
      const waiting = flush();
      if (waiting) await waiting;
      const sent = put(op);
      if (sent) await sent;
    } else {
      if (n === room || bytes + putBytes > MAX_TXN_BYTES) {
        const waiting = flush();
        if (waiting) await waiting;
      }
      if (n === 0) {
        const text = data.toString('latin1', start, keyEnd);
        firstKey = load.prefix + (load.parts > 1 ? text.replaceAll('\t', '/') : text);
      }
      spans[3 * n] = start;
      spans[3 * n + 1] = keyEnd;
      spans[3 * n + 2] = end;
      n++;
      bytes += putBytes;
    }
    at = end + 1;
  }
  const waiting = flush();
  if (waiting) await waiting;
}
