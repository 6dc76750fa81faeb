import { GmqError } from "./errors.js";
import {
  basicNameProblem,
  hasWildcard,
  mqttFilterProblem,
  mqttTopicProblem,
  parseSharedFilter,
} from "./topics.js";
import type { Transport } from "./transport.js";

/** One topic level: request/reply over pub/sub puts service and method names into a topic. */
function levelProblem(name: string): string | undefined {
  if (/[/+#]/.test(name)) return `must not contain "/", "+" or "#": "${name}"`;
  return undefined;
}

/**
 * Checks names against the transport's rules (`Transport.naming`), or the MQTT defaults where it
 * has none, and fails with `invalid_argument` naming the field.
 */
export class Naming {
  readonly #transport: Transport;

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  topic(topic: unknown, field = "topic"): asserts topic is string {
    const rule = this.#transport.naming?.topic ?? mqttTopicProblem;
    check(topic, rule, field);
  }

  /** A subscription pattern; returns the filter and the queue group a `$share/` prefix names. */
  pattern(pattern: unknown, field = "pattern"): { filter: string; group?: string } {
    const naming = this.#transport.naming;
    const basic = basicNameProblem(pattern);
    if (basic) throw GmqError.invalid(field, basic);
    const shared = naming?.sharedPrefix
      ? parseSharedFilter(pattern as string)
      : { filter: pattern as string };
    check(shared.filter, naming?.pattern ?? mqttFilterProblem, field);
    const caps = this.#transport.capabilities;
    if (caps.inbound === "routed" && !caps.wildcards && hasWildcard(shared.filter) && !naming?.pattern) {
      throw GmqError.unsupported(field, this.#transport.name, "cannot match wildcards");
    }
    return shared;
  }

  service(service: unknown, field = "service"): asserts service is string {
    check(service, this.#nativeRule("service") ?? levelProblem, field);
  }

  method(method: unknown, field = "method"): asserts method is string {
    check(method, this.#nativeRule("method") ?? levelProblem, field);
  }

  /** Native request/reply may spell names its own way; emulated RPC needs one topic level. */
  #nativeRule(kind: "service" | "method"): ((name: string) => string | undefined) | undefined {
    return this.#transport.capabilities.requestReply ? this.#transport.naming?.[kind] : undefined;
  }
}

function check(value: unknown, rule: (value: string) => string | undefined, field: string): void {
  const problem = basicNameProblem(value) ?? rule(value as string);
  if (problem) throw GmqError.invalid(field, problem);
}
