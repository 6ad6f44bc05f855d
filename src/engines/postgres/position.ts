import { ErrorCode, TributaryError } from '../../core/errors.js';

/**
 * A PostgreSQL stream position: a WAL location (LSN) in the replication slot it belongs to.
 * Serialised as 'postgres:<slot>:<LSN>', e.g. 'postgres:tributary_shop:0/16B3748'; nothing
 * outside this folder looks inside. An LSN is a 64-bit byte offset into the WAL, printed as two
 * 32-bit hex halves, so it is compared as a bigint, never as text.
 *
 * What a position means: "every transaction whose commit ends at or before this LSN is applied".
 * That is what the slot's confirmed_flush_lsn means too, so a position is acknowledged as is.
 *
 * A schema change has no WAL location of its own (pgoutput shows it with the first row after it),
 * so it lies at the LSN of the transactions before it, as its `step`-th change there:
 * 'postgres:<slot>:<LSN>+<step>' comes after '<LSN>' and before any later LSN, and a stream
 * resumed from it starts at the LSN (the transaction after the change is decoded again, and so is
 * the change, already in effect). Each change thus has a position of its own, distinct from the
 * checkpoint before it, which a target's replay test needs (TargetWriter.applySchemaChange).
 */
export interface SlotPosition {
  readonly slot: string;
  readonly lsn: bigint;
  /** The schema change's number among those at `lsn` (absent: the LSN itself). */
  readonly step?: number;
}

const LSN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

export function parseLsn(text: string): bigint {
  const m = LSN.exec(text.trim());
  if (!m) throw new Error(`'${text}' is not an LSN`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** PostgreSQL's own form: upper-case hex halves without padding ('0/16B3748'). */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

export function encodePosition(p: SlotPosition): string {
  return `postgres:${p.slot}:${formatLsn(p.lsn)}${p.step ? `+${p.step}` : ''}`;
}

export function decodePosition(s: string): SlotPosition {
  const m = /^postgres:([^:]+):(.+?)(?:\+(\d+))?$/.exec(s);
  try {
    if (!m) throw new Error("expected 'postgres:<slot>:<LSN>'");
    const step = m[3] === undefined ? 0 : Number(m[3]);
    return { slot: m[1] as string, lsn: parseLsn(m[2] as string), ...(step > 0 ? { step } : {}) };
  } catch (err) {
    throw new TributaryError(
      ErrorCode.CHECKPOINT_INVALID,
      `PostgreSQL position '${s}' in the checkpoint is not valid (${(err as Error).message}); remove the checkpoint row or use --force`,
      { cause: err },
    );
  }
}

export function comparePositions(a: string, b: string): number {
  const x = decodePosition(a);
  const y = decodePosition(b);
  if (x.lsn !== y.lsn) return x.lsn < y.lsn ? -1 : 1;
  return Math.sign((x.step ?? 0) - (y.step ?? 0));
}

export function describePosition(s: string): string {
  const p = decodePosition(s);
  return `LSN ${formatLsn(p.lsn)}${p.step ? `+${p.step}` : ''} (slot ${p.slot})`;
}
