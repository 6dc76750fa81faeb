export type { MqantOptions } from "./options.js";
export { envelopeDecoder, type GateReply, gateError, type ReplyDecoder, rawDecoder } from "./reply.js";
export { mqant } from "./transport.js";
