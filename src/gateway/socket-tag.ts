import type { WebSocket } from 'ws';
import type { Connection } from '../hub/connection.js';

/**
 * The hub's Connection rides on its socket under a symbol. This file holds only the tag, so the
 * filter, the parameter decorators and the router can read it without importing each other.
 */
const CONNECTION = Symbol('connection');
type TaggedSocket = WebSocket & { [CONNECTION]?: Connection };

/** Tags an accepted socket with its Connection. */
export function tagSocket(ws: WebSocket, c: Connection): void {
  (ws as TaggedSocket)[CONNECTION] = c;
}

/** The hub's Connection behind an accepted socket. */
export function connectionOf(ws: WebSocket): Connection | undefined {
  return (ws as TaggedSocket)[CONNECTION];
}
