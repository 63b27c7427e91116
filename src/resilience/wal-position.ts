/**
 * WAL positions (LSNs) as PostgreSQL prints them, `16/B374D848`: the high and low 32 bits in hex. As a bigint
 * they compare and subtract exactly (a plain number loses precision past 2^53 bytes of WAL).
 */

const LSN_TEXT = /^([0-9A-F]{1,8})\/([0-9A-F]{1,8})$/i;

/** `16/B374D848` → its byte position; `undefined` for anything else (null from a primary, a malformed string). */
export function parseLsn(text: unknown): bigint | undefined {
  if (typeof text !== 'string') return undefined;
  const match = LSN_TEXT.exec(text);
  return match === null ? undefined : (BigInt(`0x${match[1]}`) << 32n) + BigInt(`0x${match[2]}`);
}

/** A byte position → PostgreSQL's text form, `16/B374D848`. */
export function formatLsn(position: bigint): string {
  return `${(position >> 32n).toString(16).toUpperCase()}/${(position & 0xffffffffn).toString(16).toUpperCase()}`;
}
