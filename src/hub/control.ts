import type { Revocation } from '../auth/revocation.js';

/**
 * Cluster-wide commands of the server API. They travel over the broker's user channel (or the
 * broadcast channel) like frames, under the key CONTROL, and the hub carries them out instead of
 * forwarding them: they never reach a client.
 */
export const CONTROL = '$control';

export type ControlCommand =
  /** Close every connection of the user (on the user's channel). */
  | { op: 'disconnect'; user: string; code: number; reason: string }
  /** Take the user's connections out of a room, `left {room, reason: "removed"}` (user's channel). */
  | { op: 'leave'; user: string; room: string }
  /** Close the connections whose token the revocation covers, 4001 (user's channel, or broadcast for a jti). */
  | { op: 'revoke'; revocation: Revocation };

export interface ControlMessage {
  [CONTROL]: ControlCommand;
}

export function controlMessage(command: ControlCommand): ControlMessage {
  return { [CONTROL]: command };
}

/** The command a broker payload carries, if it is one. */
export function controlOf(payload: object): ControlCommand | undefined {
  return (payload as Partial<ControlMessage>)[CONTROL];
}
