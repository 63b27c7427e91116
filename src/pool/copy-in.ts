import type { PoolClient, QueryResult } from 'pg';
import { protocolSerializer, submitCopyIn } from './pg-internals.js';

/**
 * `COPY … FROM STDIN` inside a pipelined batch. The statement goes as Parse (unnamed) + Bind + Execute and its rows
 * follow at once as CopyData messages and a CopyDone: PostgreSQL reads them after the Execute whether or not the
 * client has seen its CopyInResponse, so the COPY costs no round trip of its own. If the COPY fails (a constraint,
 * a bad value, a missing column), the server reports it as this statement's ErrorResponse and then skips every
 * message up to the next Sync, CopyData and CopyDone included: the rest of the batch behaves as after any failed
 * statement.
 */

/** PostgreSQL takes CopyData messages of any size; the rows are cut into pieces of this many bytes at most. */
const COPY_DATA_BYTES = 1 << 20;

/** Parse + Bind + Execute of `text`, then `data` as CopyData messages and a CopyDone (no Sync). */
export function encodeCopyIn(text: string, data: Buffer): Buffer[] {
  const parts: Buffer[] = [
    protocolSerializer.parse({ text }),
    protocolSerializer.bind({}),
    protocolSerializer.execute(),
  ];
  for (let start = 0; start < data.length; start += COPY_DATA_BYTES)
    parts.push(protocolSerializer.copyData(data.subarray(start, start + COPY_DATA_BYTES)));
  parts.push(protocolSerializer.copyDone());
  return parts;
}

/**
 * Sends `COPY … FROM STDIN` with its rows (`data`, in the format the statement names) as one query of pg's on
 * `client`, pipelined behind the client's other queries when it is in pipeline mode. Resolves with pg's result
 * (`command: 'COPY'`, `rowCount`: rows copied) or rejects with the COPY's error.
 */
export function sendCopyIn(client: PoolClient, text: string, data: Buffer): Promise<QueryResult> {
  return submitCopyIn(client, Buffer.concat([...encodeCopyIn(text, data), protocolSerializer.sync()]));
}
