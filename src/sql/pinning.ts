import { lexSql, type Token } from './lexer.js';

/**
 * Which statements tie a pool client to one connection, read from the SQL text alone.
 *
 * A client from `asPool().connect()` routes each statement on its own until one of them opens a transaction or
 * leaves state on its connection that later statements of the same client rely on. From then on the client stays
 * on that connection: until the transaction ends (for a transaction alone), or until `release()` (for session
 * state). The flags say what has to be undone before the connection can serve anyone else.
 */

/** `SET`, `RESET`, `set_config()`: undone by resetting the session's settings when the client is released. */
export const SESSION_SETTINGS = 1;
/**
 * `LISTEN`, temporary tables, session-level advisory locks, `PREPARE`, cursors, `LOAD`, `DISCARD`: state that no
 * cheap statement undoes, so the connection is closed when the client is released.
 */
export const SESSION_STATE = 2;
/** `pg_backend_pid()`: the caller wants to know its backend (to cancel it later), so it must keep that backend. */
export const SESSION_IDENTITY = 4;

/** What one SQL text does to the connection it runs on. */
export interface Pinning {
  /** It opens a transaction (`BEGIN`, `START TRANSACTION`). */
  readonly begins: boolean;
  /** The transaction it opens is `READ ONLY` and not `SERIALIZABLE`, so a replica may run it. */
  readonly readOnly: boolean;
  /** `SESSION_*` flags of the state it leaves behind; `0` for none. */
  readonly session: number;
  /** It drops prepared statements (`DISCARD ALL`, `DEALLOCATE`): later statements on that connection run unnamed. */
  readonly dropsStatements: boolean;
}

/** A statement that can run on any connection. */
export const UNPINNED: Pinning = Object.freeze({ begins: false, readOnly: false, session: 0, dropsStatements: false });

// Session-level advisory locks outlive the statement; the `_xact_` ones end with the transaction.
const SESSION_FUNCTIONS: ReadonlyMap<string, number> = new Map([
  ['pg_advisory_lock', SESSION_STATE],
  ['pg_advisory_lock_shared', SESSION_STATE],
  ['pg_try_advisory_lock', SESSION_STATE],
  ['pg_try_advisory_lock_shared', SESSION_STATE],
  ['dblink_connect', SESSION_STATE],
  ['dblink_connect_u', SESSION_STATE],
  ['set_config', SESSION_SETTINGS],
  ['pg_backend_pid', SESSION_IDENTITY],
]);

// Commands whose first word alone says they leave state behind (PREPARE TRANSACTION is the exception, below).
const STATEFUL_COMMANDS: ReadonlySet<string> = new Set([
  'listen',
  'unlisten',
  'prepare',
  'execute',
  'deallocate',
  'declare',
  'fetch',
  'move',
  'close',
  'load',
  'discard',
]);

const isWord = (token: Token | undefined, ...words: string[]): boolean =>
  token !== undefined && token.type === 'word' && words.includes(token.text);

/**
 * How `sql` pins a client. Text that cannot be lexed pins nothing: the router sends it to the primary, which
 * rejects it.
 */
export function pinningOf(sql: string): Pinning {
  const lexed = lexSql(sql);
  if (!lexed.ok) return UNPINNED;
  let begins = false;
  let readOnly = true;
  let session = 0;
  let dropsStatements = false;
  let start = 0;
  const tokens = lexed.tokens;
  for (let i = 0; i <= tokens.length; i++) {
    if (i < tokens.length && tokens[i]!.type !== 'semicolon') continue;
    if (i > start) {
      const statement = tokens.slice(start, i);
      const effect = statementPinning(statement);
      if (effect.begins) {
        begins = true;
        readOnly &&= effect.readOnly;
      }
      session |= effect.session;
      dropsStatements ||= effect.dropsStatements;
    }
    start = i + 1;
  }
  if (!begins && session === 0) return UNPINNED;
  return { begins, readOnly: begins && readOnly && session === 0, session, dropsStatements };
}

function statementPinning(tokens: readonly Token[]): Pinning {
  const first = tokens[0]!;
  const second = tokens[1];
  let session = functionEffects(tokens);
  if (first.type !== 'word') return session === 0 ? UNPINNED : { ...UNPINNED, session };
  switch (first.text) {
    case 'begin':
    case 'start': {
      if (first.text === 'start' && !isWord(second, 'transaction')) break;
      const words = tokens.map((token) => (token.type === 'word' ? token.text : ''));
      const readOnly =
        words.some((word, i) => word === 'read' && words[i + 1] === 'only') && !words.includes('serializable');
      return { begins: true, readOnly, session, dropsStatements: false };
    }
    case 'set':
      // SET LOCAL, SET TRANSACTION and SET CONSTRAINTS end with the transaction.
      if (!isWord(second, 'local', 'transaction', 'constraints')) session |= SESSION_SETTINGS;
      break;
    case 'reset':
      session |= SESSION_SETTINGS;
      break;
    case 'create':
      if (tokens.slice(1, 5).some((token) => isWord(token, 'temp', 'temporary'))) session |= SESSION_STATE;
      break;
    case 'select':
    case 'with':
      // SELECT … INTO TEMP creates a temporary table.
      for (let i = 0; i + 1 < tokens.length; i++)
        if (isWord(tokens[i], 'into') && isWord(tokens[i + 1], 'temp', 'temporary')) session |= SESSION_STATE;
      break;
    default:
      if (STATEFUL_COMMANDS.has(first.text) && !(first.text === 'prepare' && isWord(second, 'transaction'))) {
        session |= SESSION_STATE;
        const drops = first.text === 'deallocate' || (first.text === 'discard' && isWord(second, 'all'));
        return { begins: false, readOnly: false, session, dropsStatements: drops };
      }
  }
  if (tokens.some((token) => isWord(token, 'pg_temp'))) session |= SESSION_STATE;
  return session === 0 ? UNPINNED : { begins: false, readOnly: false, session, dropsStatements: false };
}

/** The session flags of the functions a statement calls (`name(`, schema-qualified or quoted alike). */
function functionEffects(tokens: readonly Token[]): number {
  let session = 0;
  for (let i = 0; i + 1 < tokens.length; i++) {
    const token = tokens[i]!;
    if ((token.type === 'word' || token.type === 'qident') && tokens[i + 1]!.type === 'lparen')
      session |= SESSION_FUNCTIONS.get(token.text) ?? 0;
  }
  return session;
}
