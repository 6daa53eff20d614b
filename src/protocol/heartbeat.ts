/** Exact heartbeat texts answered by the runtime's auto-response (no zod here: the SDK imports it). */
export const HEARTBEAT_REQUEST = '{"type":"ping"}';
export const HEARTBEAT_RESPONSE = '{"type":"pong"}';
