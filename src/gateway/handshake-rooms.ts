/**
 * `?rooms=a,b,...` on the handshake URL: the distinct room names it asks for, in order (blank items
 * dropped). Their validity is the join's business: each is joined as a `join` frame would be.
 */
export function requestedRooms(url: URL): string[] {
  const rooms = url.searchParams.get('rooms');
  if (!rooms) return [];
  return [
    ...new Set(
      rooms
        .split(',')
        .map((r) => r.trim())
        .filter(Boolean),
    ),
  ];
}

/** Why a handshake naming more than `max` rooms is refused (answered 400 before the upgrade). */
export function tooManyRoomsMessage(count: number, max: number): string {
  return `?rooms= names ${count} rooms; at most ${max} (MAX_ROOMS_PER_CONNECTION) may be joined at the handshake`;
}
