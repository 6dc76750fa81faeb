/**
 * The mqantserver demo backend (spec §6): Login, Chat and HelloWorld, with the demo's exact
 * strings, Go-style panics for wrong field types, the Chat login listener, lazy leave and rooms
 * that are never deleted.
 */

import { goJson } from "./go-json.js";
import { HandlerError, type MapArgs, type MqantModule, mapHandler } from "./module.js";
import type { GateSession } from "./session.js";

/** Go's name for the dynamic type of a decoded JSON value. */
function goTypeName(v: unknown): string {
  if (v === null || v === undefined) return "nil";
  if (typeof v === "string") return "string";
  if (typeof v === "number") return "float64";
  if (typeof v === "boolean") return "bool";
  if (Array.isArray(v)) return "[]interface {}";
  return "map[string]interface {}";
}

/** `msg[key].(string)`: panics like Go when the field is missing or not a string. */
function mustString(msg: MapArgs, key: string): string {
  const v = msg[key];
  if (typeof v === "string") return v;
  throw new Error(`interface conversion: interface {} is ${goTypeName(v)}, not string`);
}

/** `msg[key] == nil` in Go: missing or JSON null. */
function isNil(msg: MapArgs, key: string): boolean {
  return msg[key] === undefined || msg[key] === null;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function loginModule(): MqantModule {
  return {
    type: "Login",
    handlers: {
      HD_Login: mapHandler(async (session, msg) => {
        // Missing fields are a *result*, not an error.
        if (isNil(msg, "userName") || isNil(msg, "passWord")) return "userName or passWord cannot be nil";
        const userName = mustString(msg, "userName");
        await session.bind(userName);
        await session.set("login", "true");
        await session.push();
        return `login success ${userName}`;
      }),
    },
  };
}

export function helloWorldModule(): MqantModule {
  return {
    type: "HelloWorld",
    handlers: {
      HD_Say: mapHandler((_session, msg) => {
        if (isNil(msg, "say")) return "say cannot be nil";
        return `you say : ${mustString(msg, "say")}`;
      }),
    },
  };
}

/** JoinChat's internal demo RPC chain (Login.track → track2 → maybe track3) takes 30–50 ms. */
const JOIN_LATENCY_MIN_MS = 30;
const JOIN_LATENCY_SPREAD_MS = 20;

export function chatModule(timeScale = 1): MqantModule {
  /** roomName → userId → the member's session (a copy; sends go back to the gate by session id). */
  const rooms = new Map<string, Map<string, GateSession>>();

  const onLeave = (roomName: string, userId: string) => {
    const members = rooms.get(roomName);
    if (!members) return;
    members.delete(userId);
    const body = goJson({ roomName, user: userId });
    for (const member of members.values()) member.sendNR("Chat/OnLeave", body);
  };

  const joinChat = mapHandler(async (session, msg) => {
    if (msg.roomName === "") throw new HandlerError("roomName cannot be nil");
    await sleep((JOIN_LATENCY_MIN_MS + Math.random() * JOIN_LATENCY_SPREAD_MS) * timeScale);
    const roomName = mustString(msg, "roomName");
    let members = rooms.get(roomName);
    if (!members) {
      members = new Map();
      rooms.set(roomName, members);
    }
    // A later join of the same userId replaces the earlier session (e.g. after a reconnect).
    members.set(session.userId, session);
    const body = goJson({ roomName, user: session.userId });
    const users: string[] = [];
    for (const member of [...members.values()]) {
      if (member.userId !== session.userId) {
        // A member whose send fails is dropped, but still listed in this reply.
        await member.send("Chat/OnJoin", body).catch(() => onLeave(roomName, member.userId));
      }
      users.push(member.userId);
    }
    return { users };
  });

  const say = mapHandler(async (session, msg) => {
    if (isNil(msg, "roomName") || isNil(msg, "content"))
      throw new HandlerError("roomName or say cannot be nil");
    const roomName = mustString(msg, "roomName");
    const target = mustString(msg, "target");
    const content = mustString(msg, "content");
    const members = rooms.get(roomName);
    if (!members) throw new HandlerError("No room");
    if (!members.has(session.userId)) throw new HandlerError("You haven't been in the room yet");
    // `from` in the request is ignored: the sender is the session's user.
    const body = goJson({ roomName, from: session.userId, target, msg: content });
    if (target === "*") {
      for (const member of [...members.values()]) {
        await member.send("Chat/OnChat", body).catch(() => onLeave(roomName, member.userId));
      }
    } else {
      const member = members.get(target);
      if (!member) throw new HandlerError("This user haven't been in the room yet");
      const failed = await member.send("Chat/OnChat", body).then(
        () => false,
        () => true,
      );
      if (failed) {
        onLeave(roomName, member.userId);
        throw new HandlerError("The user has left the room");
      }
    }
    return { say: "say success" };
  });

  return {
    type: "Chat",
    handlers: { HD_JoinChat: joinChat, HD_Say: say },
    // The demo's RPC listener: every Chat call from a guest is refused (after handler lookup).
    beforeHandle: (_handler, session) => (session.userId === "" ? "必须先登录账号" : undefined),
  };
}

/** Fresh instances of the three demo modules (Chat keeps its rooms per instance). */
export function demoModules(timeScale = 1): MqantModule[] {
  return [loginModule(), chatModule(timeScale), helloWorldModule()];
}
