/**
 * gnode's HTTP endpoints (spec §2): exact paths, the `{"code","data","msg"}` envelope with the
 * exact texts in check order, Go integer parsing, lazy topic creation by exactly the listed
 * requests, and the blocking `/pop` that is never cancelled by its client leaving (§7.1 #9).
 */

import { Buffer } from "node:buffer";
import type { GnodeBroker } from "./broker.js";
import { goJsonString, goParseInt, goUint64, toNumber } from "./go-values.js";
import type { GoValues } from "./http-form.js";
import { respMsgJson } from "./queue.js";
import { decodeRecvMsg } from "./recv-msg.js";

/** One request as the handlers see it. */
export interface HttpExchange {
  readonly query: GoValues;
  /** `r.FormValue("data")` (reads the body when FormValue would). */
  formValue(key: string): Promise<Buffer | undefined>;
  /** Write the JSON envelope (HTTP 200). */
  reply(code: 0 | 1, dataJson: string, msg: string): void;
  /** Drop the connection with no response (upstream's recovered handler panic). */
  abort(): void;
}

/** The envelope to send, or undefined when the handler answers later (a blocked `/pop`). */
export interface Reply {
  readonly code: 0 | 1;
  readonly data: string;
  readonly msg: string;
}

type Handler = (broker: GnodeBroker, ex: HttpExchange) => Reply | undefined | Promise<Reply | undefined>;

const ok = (msg: string): Reply => ({ code: 0, data: "null", msg });
const data = (json: string): Reply => ({ code: 0, data: json, msg: "success" });
const fail = (msg: string): Reply => ({ code: 1, data: "null", msg });
const int = (ex: HttpExchange, key: string) => toNumber(goParseInt(ex.query.get(key)));

export const HTTP_HANDLERS: Readonly<Record<string, Handler>> = {
  "/push": push,
  "/pop": pop,
  "/ack": ack,
  "/config": config,
  "/declareQueue": declareQueue,
  "/getTopicStat": getTopicStat,
  "/getAllTopicStat": getAllTopicStat,
  "/getQueuesByTopic": getQueuesByTopic,
  "/setIsAutoAck": setIsAutoAck,
  "/exitTopic": exitTopic,
};

async function push(broker: GnodeBroker, ex: HttpExchange): Promise<Reply> {
  const raw = await ex.formValue("data");
  if (!raw || raw.length === 0) return fail("data is empty");
  const { msg, error } = decodeRecvMsg(raw);
  if (error !== undefined) return fail(error);
  const r = broker.push(msg.topic, msg.routeKey, Buffer.from(msg.body, "utf8"), msg.delay, "HTTP /push");
  if (r.ok) return data(`{"msgId":"${r.id}"}`);
  switch (r.reason) {
    case "empty-topic":
      return fail("topic is empty");
    case "invalid-name":
      return fail("invalid name");
    case "too-large":
      return fail("body too large");
    case "no-match":
      return fail(r.text);
  }
}

function pop(broker: GnodeBroker, ex: HttpExchange): Reply | undefined {
  const topicName = ex.query.get("topic");
  if (!topicName) return fail("topic is empty");
  const bindKey = ex.query.get("bindKey");
  if (!bindKey) return fail("bindKey is empty");
  const topic = broker.topic(topicName);
  const queue = topic.queueFor(bindKey);
  if (!queue) return fail(`bindKey:${bindKey} can't match queue`);
  // Never withdrawn: a client that gave up still consumes the next message.
  queue.consume({
    kind: "http-pop",
    deliver: (msg) => {
      topic.popNum++;
      const reply = data(respMsgJson(msg));
      ex.reply(reply.code, reply.data, reply.msg);
    },
    topicExited: () => ex.abort(),
  });
  return undefined;
}

function ack(broker: GnodeBroker, ex: HttpExchange): Reply | undefined {
  const id = goParseInt(ex.query.get("msgId"));
  if (id === 0n) return fail("msgId is empty");
  const topicName = ex.query.get("topic");
  if (!topicName) return fail("topic is empty");
  const bindKey = ex.query.get("bindKey");
  if (!bindKey) return fail("bindKey is empty");
  const queue = broker.topic(topicName).queueFor(bindKey);
  if (!queue) return fail(`bindkey:${bindKey} is not associated with queue`);
  const uid = goUint64(id);
  if (!queue.ack(uid)) return fail(`msgId:${uid} is not exist.`);
  return ok("success");
}

function config(broker: GnodeBroker, ex: HttpExchange): Reply | undefined {
  const topicName = ex.query.get("topic");
  if (!topicName) return fail("topic is empty");
  broker.topic(topicName).configure({
    isAutoAck: int(ex, "isAutoAck"),
    mode: int(ex, "mode"),
    msgTTR: int(ex, "msgTTR"),
    msgRetry: int(ex, "msgRetry"),
  });
  return ok("success");
}

function declareQueue(broker: GnodeBroker, ex: HttpExchange): Reply | undefined {
  const topicName = ex.query.get("topic");
  if (!topicName) return fail("topic is empty");
  const bindKey = ex.query.get("bindKey");
  if (!bindKey) return fail("bindKey is empty");
  const r = broker.topic(topicName).declare(bindKey);
  if (r === "exists") return fail(`bindKey ${bindKey} has exist.`);
  if (r === "invalid-name") {
    broker.incident("invalid-name", `HTTP /declareQueue ${topicName} ${bindKey}`);
    return fail("invalid name");
  }
  return ok("ok");
}

function getTopicStat(broker: GnodeBroker, ex: HttpExchange): Reply | undefined {
  const topicName = ex.query.get("topic");
  if (!topicName) return fail("topic is empty");
  const topic = broker.loaded(topicName);
  if (!topic) return fail("topic is not exist");
  return data(topic.statJson(broker.delays.count(topicName)));
}

function getAllTopicStat(broker: GnodeBroker): Reply | undefined {
  const stats = [...broker.topics.values()].map((t) => t.statJson(broker.delays.count(t.name)));
  return data(`[${stats.join(",")}]`);
}

function getQueuesByTopic(broker: GnodeBroker, ex: HttpExchange): Reply | undefined {
  const topicName = ex.query.get("topic");
  if (!topicName) return fail("topic is empty");
  const topic = broker.topic(topicName);
  // A Go map: keys sorted by their bytes.
  const keys = [...topic.queues.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return data(
    `{${keys.map((k) => `${goJsonString(k)}:${goJsonString(topic.queues.get(k)!.name)}`).join(",")}}`,
  );
}

function setIsAutoAck(broker: GnodeBroker, ex: HttpExchange): Reply | undefined {
  const topicName = ex.query.get("topic");
  if (!topicName) return fail("topic is empty");
  const topic = broker.loaded(topicName);
  if (!topic) return fail("topic is not exist");
  topic.configure({ isAutoAck: topic.isAutoAck ? 0 : 1, mode: 0, msgTTR: 0, msgRetry: 0 });
  return ok("success");
}

function exitTopic(broker: GnodeBroker, ex: HttpExchange): Reply | undefined {
  const topicName = ex.query.get("topic");
  if (!topicName) return fail("topic is empty");
  if (!broker.loaded(topicName)) return fail("topic is not exist");
  for (const consumer of broker.unload(topicName)) consumer.topicExited();
  return ok(`topic.${topicName} has exit.`);
}
