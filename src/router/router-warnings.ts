import type { EventEmitter } from 'node:events';
import type { RouterEvents } from './router-events.js';

/**
 * What the router worked around but an operator should know: a `warning` event, or a Node process warning when
 * nobody listens.
 */
export class RouterWarnings {
  private warnedSessionState = false;

  constructor(private readonly events: EventEmitter<RouterEvents>) {}

  warn(message: string): void {
    if (this.events.listenerCount('warning') > 0) this.events.emit('warning', { message });
    else process.emitWarning(message, 'PgQueryRouterWarning');
  }

  /** Says once that session state does not carry across `query()` calls. */
  sessionStateSentAlone(): void {
    if (this.warnedSessionState) return;
    this.warnedSessionState = true;
    this.warn(
      'a statement that leaves session state (SET, LISTEN, a temporary table, PREPARE, a session advisory lock, BEGIN, …) ran alone: ' +
        'its connection is closed after it, so the state does not carry to the next call. Use transaction() or asPool().connect() for work that needs it',
    );
  }
}
