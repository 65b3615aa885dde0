// Field limits of the wire protocol that do not depend on configuration: the server's DTOs and the
// typed client check the same rules (the configured ones, such as MAX_CONTENT_LENGTH, reach the
// client in `welcome.limits`).

/** Longest room name. */
export const MAX_ROOM_LENGTH = 64;
/** Room names: 1..64 characters from A-Z a-z 0-9 _ - . : */
export const ROOM_NAME = new RegExp(`^[A-Za-z0-9_.:-]{1,${MAX_ROOM_LENGTH}}$`);
/** What a room name that fails ROOM_NAME gets told (an error frame's `details[].problem`). */
export const ROOM_NAME_PROBLEM = `must be 1..${MAX_ROOM_LENGTH} characters of A-Z a-z 0-9 _ - . :`;

/** Longest client-given `id` (the dedup key) and the longest `epoch`. */
export const MAX_ID_LENGTH = 64;
/** Longest user id: the token's `sub`, and so a `direct` frame's `to`. */
export const MAX_USER_ID_LENGTH = 128;
/** Longest token in an `auth` frame. */
export const MAX_TOKEN_LENGTH = 8192;

/** Largest `last` of a `join` (the replay is further bounded by what history holds, HISTORY_SIZE). */
export const MAX_JOIN_LAST = 1000;
