import { GmqError } from "./errors.js";
import { checkName, hasWildcard, mqttFilterProblem, mqttTopicProblem, parseSharedFilter } from "./topics.js";
import type { Transport } from "./transport.js";

/** One topic level: request/reply over pub/sub puts service and method names into a topic. */
function levelProblem(name: string): string | undefined {
  if (/[/+#]/.test(name)) return `must not contain "/", "+" or "#": "${name}"`;
  return undefined;
}

/** Nothing beyond the basic checks. */
const noProblem = (): undefined => undefined;

/**
 * Checks names against the transport's rules (`Transport.naming`), or the MQTT defaults where it
 * has none, and fails with `invalid_argument` naming the field.
 */
export class Naming {
  readonly #transport: Transport;

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  topic(topic: unknown): asserts topic is string {
    checkName(topic, this.#transport.naming?.topic ?? mqttTopicProblem, "topic");
  }

  /** A subscription pattern; returns the filter and the queue group a `$share/` prefix names. */
  pattern(pattern: unknown): { filter: string; group?: string } {
    const naming = this.#transport.naming;
    checkName(pattern, noProblem, "pattern");
    const shared = naming?.sharedPrefix ? parseSharedFilter(pattern) : { filter: pattern };
    checkName(shared.filter, naming?.pattern ?? mqttFilterProblem, "pattern");
    const caps = this.#transport.capabilities;
    if (caps.inbound === "routed" && !caps.wildcards && hasWildcard(shared.filter) && !naming?.pattern) {
      throw GmqError.unsupported("pattern", this.#transport.name, "cannot match wildcards");
    }
    return shared;
  }

  /** The service and method of a call. Native request/reply may spell them its own way; emulated
   *  RPC puts each into one topic level. */
  call(service: unknown, method: unknown): void {
    const native = this.#transport.capabilities.requestReply ? this.#transport.naming : undefined;
    checkName(service, native?.service ?? levelProblem, "service");
    checkName(method, native?.method ?? levelProblem, "method");
  }
}
