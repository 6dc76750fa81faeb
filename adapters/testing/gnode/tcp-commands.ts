/**
 * The TCP commands of spec §3.1 with their exact texts, fatal/non-fatal classes and check order,
 * plus the emulator's replies for the upstream crashes of §7.2.
 */

import { Buffer } from "node:buffer";
import { MAX_BODY_BYTES, type PushResult } from "./broker.js";
import { ReadError } from "./byte-reader.js";
import { goParseInt, goUint64 } from "./go-values.js";
import { respMsgJson } from "./queue.js";
import { decodeRecvMsg } from "./recv-msg.js";
import {
  type CommandError,
  FRAME_ERROR,
  FRAME_MESSAGE,
  FRAME_RESULT,
  fatal,
  MAX_ITEM_BYTES,
  nonFatal,
} from "./tcp-frames.js";
import type { TcpSession } from "./tcp-session.js";

const MAX_DELAY = 259200n;
const MAX_PUSH_NUM = 1000n;

type Result = CommandError | undefined;
type Command = (s: TcpSession, params: string[]) => Promise<Result> | Result;

const COMMANDS: Record<string, Command> = {
  pub,
  mpub,
  pop,
  ack,
  dead,
  set,
  queue: declareQueue,
  subscribe,
  publish,
  ping: (s) => {
    s.armPingDeadline();
    return undefined;
  },
};

export async function runCommand(s: TcpSession, name: string, params: string[]): Promise<Result> {
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name]! : undefined;
  if (!command) return nonFatal("CMD", `unkown cmd: ${name}`);
  try {
    return await command(s, params);
  } catch (error) {
    if (error instanceof ReadError) return fatal("READ", error.message);
    throw error;
  }
}

/** A length-prefixed item, refused unread when its length is absurd. */
async function readItem(s: TcpSession, limit: number, what: string): Promise<Buffer | CommandError> {
  const length = await s.reader.readU32();
  if (length > limit) {
    s.host.broker.incident("body-too-large", `TCP ${what}: length prefix ${length}`);
    return fatal("READ", "body too large");
  }
  return s.reader.readFull(length);
}

function pushFailure(r: Exclude<PushResult, { ok: true }>, mpub: boolean): CommandError {
  switch (r.reason) {
    case "empty-topic":
      return fatal("TOPIC", "topic name required");
    case "invalid-name":
      return fatal("PARAMS", "invalid name");
    case "too-large":
      return fatal("READ", "body too large");
    case "no-match":
      // pub: F READ closes the socket; mpub: NF PUSH leaves the later items unread (desync).
      return mpub ? nonFatal("PUSH", r.text) : fatal("READ", r.text);
  }
}

async function pub(s: TcpSession, params: string[]): Promise<Result> {
  if (params.length !== 3) return fatal("PARAMS", "3 parameters required");
  const [topic, routeKey, delayText] = params as [string, string, string];
  const delay = goParseInt(delayText);
  // Sent before the item is read: the unread body is then parsed as command lines.
  if (delay > MAX_DELAY) return nonFatal("DELAY", "delay can't exceeding the maximum %!s(int=259200)");
  const body = await readItem(s, MAX_BODY_BYTES, "pub");
  if (!Buffer.isBuffer(body)) return body;
  const r = s.host.broker.push(topic, routeKey, body, delay, "TCP pub");
  if (!r.ok) return pushFailure(r, false);
  s.writeFrame(FRAME_RESULT, r.id.toString());
  return undefined;
}

async function mpub(s: TcpSession, params: string[]): Promise<Result> {
  if (params.length !== 2) return fatal("PARAMS", "2 parameters required");
  const [topic, countText] = params as [string, string];
  const count = goParseInt(countText);
  if (count <= 0n || count > MAX_PUSH_NUM) {
    return fatal("PUSHNUM", "number of push must be between 1 and 1000");
  }
  if (topic === "") {
    s.host.broker.incident("empty-topic", "TCP mpub with an empty topic");
    return fatal("TOPIC", "topic name required");
  }
  const ids: bigint[] = [];
  for (let i = 0; i < Number(count); i++) {
    const item = await readItem(s, MAX_ITEM_BYTES, "mpub item");
    if (!Buffer.isBuffer(item)) return item;
    const { msg, error } = decodeRecvMsg(item);
    // An extra, code-less 102; the item is pushed anyway with whatever did decode.
    if (error !== undefined) s.writeFrame(FRAME_ERROR, `decode msg failed, ${error}`);
    const r = s.host.broker.push(topic, msg.routeKey, Buffer.from(msg.body, "utf8"), msg.delay, "TCP mpub");
    if (!r.ok) return pushFailure(r, true);
    ids.push(r.id);
  }
  // json.Marshal([]uint64): bare numbers, written as text so no digit is lost.
  s.writeFrame(FRAME_RESULT, `[${ids.join(",")}]`);
  return undefined;
}

async function pop(s: TcpSession, params: string[]): Promise<Result> {
  if (params.length !== 2) return fatal("PARAMS", "2 parameters required.");
  const [topicName, bindKey] = params as [string, string];
  if (topicName === "") return fatal("PARAMS", "topic name required.");
  const queue = s.host.broker.topic(topicName).queueFor(bindKey);
  if (!queue) return nonFatal("POP", `bindKey:${bindKey} can't match queue`);
  const outcome = await s.waitOn(
    queue,
    "tcp-pop",
    (msg) => s.writeFrame(FRAME_MESSAGE, respMsgJson(msg)),
    true,
  );
  return outcome === "exit" ? fatal("READ", "closed.") : undefined;
}

function ack(s: TcpSession, params: string[]): Result {
  if (params.length !== 3) return fatal("PARAMS", "3 parameters required");
  const [idText, topicName, bindKey] = params as [string, string, string];
  const id = goUint64(goParseInt(idText));
  if (topicName === "") {
    s.host.broker.incident("empty-topic", "TCP ack with an empty topic");
    return fatal("TOPIC", "topic name required");
  }
  const queue = s.host.broker.topic(topicName).queueFor(bindKey);
  if (!queue) return nonFatal("ACK", `bindkey:${bindKey} is not associated with queue`);
  if (!queue.ack(id)) return nonFatal("ACK", `msgId:${id} is not exist.`);
  s.writeFrame(FRAME_RESULT, "ok");
  return undefined;
}

async function dead(s: TcpSession, params: string[]): Promise<Result> {
  if (params.length !== 2) return fatal("PARAMS", "2 parameters required");
  const [topicName, bindKey] = params as [string, string];
  if (topicName === "") {
    s.host.broker.incident("empty-topic", "TCP dead with an empty topic");
    return fatal("TOPIC", "topic name required");
  }
  const topic = s.host.broker.topic(topicName);
  const queue = topic.deadQueueFor(bindKey);
  if (!queue) return nonFatal("DEAD", `bindkey:${bindKey} is not associated with queue`);
  const outcome = await s.waitOn(
    queue,
    "dead",
    (msg) => {
      topic.deadNum--;
      s.writeFrame(FRAME_MESSAGE, respMsgJson(msg));
    },
    false,
  );
  if (outcome !== "exit") return undefined;
  s.host.broker.incident("dead-during-exit", `TCP dead on ${topicName} while the topic exited`);
  return fatal("READ", "closed.");
}

function set(s: TcpSession, params: string[]): Result {
  if (params.length !== 2) return fatal("PARAMS", "2 parameters required");
  if (params[0] === "") return fatal("TOPIC", "topic is empty");
  s.host.broker.incident("set-command", `TCP set ${params.join(" ")}`);
  return fatal("SET", "set is not supported");
}

function declareQueue(s: TcpSession, params: string[]): Result {
  if (params.length !== 2) return fatal("PARAMS", "2 parameters required");
  const [topicName, bindKey] = params as [string, string];
  if (topicName === "") return fatal("TOPIC", "topic name required");
  if (bindKey === "") return fatal("BINDKEY", "bind key required");
  const r = s.host.broker.topic(topicName).declare(bindKey);
  if (r === "exists") return nonFatal("DECLARE", `bindKey ${bindKey} has exist.`);
  if (r === "invalid-name") {
    s.host.broker.incident("invalid-name", `TCP queue ${topicName} ${bindKey}`);
    return fatal("PARAMS", "invalid name");
  }
  s.writeFrame(FRAME_RESULT, "ok");
  return undefined;
}

function subscribe(s: TcpSession, params: string[]): Result {
  if (params.length !== 1) return fatal("PARAMS", "1 parameters required");
  const name = params[0]!;
  if (name === "") return fatal("CHANNEL", "channel name is empty");
  if (!s.host.channels.subscribe(name, s)) {
    return nonFatal("SUBSCRIBE", `client ${s.localAddress} had connection.`);
  }
  s.writeFrame(FRAME_RESULT, "ok");
  return undefined;
}

async function publish(s: TcpSession, params: string[]): Promise<Result> {
  if (params.length !== 1) return fatal("PARAMS", "1 parameters required");
  const name = params[0]!;
  if (name === "") return fatal("CHANNEL", "channel name required");
  const data = await readItem(s, MAX_ITEM_BYTES, "publish");
  if (!Buffer.isBuffer(data)) return data;
  const outcome = await s.host.channels.publish(name, data);
  if (outcome !== "ok") return nonFatal("PUBLISH", outcome);
  s.writeFrame(FRAME_RESULT, "ok");
  return undefined;
}
