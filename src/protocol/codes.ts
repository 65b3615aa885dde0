// The wire's code tables, for server code (their home is src/protocol/wire/codes.ts).
export { Close, type CloseInfo, ErrorCode, type Reconnect, Refusal, type RefusalInfo } from './wire/codes.js';
