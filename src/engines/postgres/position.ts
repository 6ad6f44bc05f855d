import { ErrorCode, TributaryError } from '../../core/errors.js';

/**
 * A PostgreSQL stream position: a WAL location (LSN) in the replication slot it belongs to.
 * Serialised as 'postgres:<slot>:<LSN>', e.g. 'postgres:tributary_shop:0/16B3748'; nothing
 * outside this folder looks inside. An LSN is a 64-bit byte offset into the WAL, printed as two
 * 32-bit hex halves, so it is compared as a bigint, never as text.
 *
 * What a position means: "every transaction whose commit ends at or before this LSN is applied".
 * That is what the slot's confirmed_flush_lsn means too, so a position is acknowledged as is.
 */
export interface SlotPosition {
  readonly slot: string;
  readonly lsn: bigint;
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
  return `postgres:${p.slot}:${formatLsn(p.lsn)}`;
}

export function decodePosition(s: string): SlotPosition {
  const m = /^postgres:([^:]+):(.+)$/.exec(s);
  try {
    if (!m) throw new Error("expected 'postgres:<slot>:<LSN>'");
    return { slot: m[1] as string, lsn: parseLsn(m[2] as string) };
  } catch (err) {
    throw new TributaryError(
      ErrorCode.CHECKPOINT_INVALID,
      `PostgreSQL position '${s}' in the checkpoint is not valid (${(err as Error).message}); remove the checkpoint row or use --force`,
      { cause: err },
    );
  }
}

export function comparePositions(a: string, b: string): number {
  const x = decodePosition(a).lsn;
  const y = decodePosition(b).lsn;
  return x < y ? -1 : x > y ? 1 : 0;
}

export function describePosition(s: string): string {
  const p = decodePosition(s);
  return `LSN ${formatLsn(p.lsn)} (slot ${p.slot})`;
}
