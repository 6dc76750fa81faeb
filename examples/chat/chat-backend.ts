/**
 * The chat protocol seen from the page, over either backend:
 * - `mqant`: the mqant demo's Login/Chat modules (works against a real mqantserver too);
 * - `mqtt`: the gmq chat service in `service.ts`, over any MQTT broker;
 * - `websocket`: the same service on a gmq hub (`gmq/websocket`), whose room subscriptions
 *   resume after a reload from positions kept in IndexedDB.
 * Both keep sending through gmq's outbox while offline, and log in and rejoin after every
 * reconnect from the client's `onConnect` hook, before queued messages flush.
 */
import { type Client, createClient, type OutboxStore, type PublishResult, type Transport } from "gmq";
import { mqant } from "gmq/mqant";
import { mqtt } from "gmq/mqtt";
import { websocket } from "gmq/websocket";

export interface ChatLine {
  readonly from: string;
  readonly msg: string;
  readonly roomName: string;
  readonly target: string;
}

export interface RoomEvent {
  readonly roomName: string;
  readonly user: string;
}

export interface ChatEvents {
  /** Who is in the room, after every (re)join. */
  members(users: string[]): void;
  chat(line: ChatLine): void;
  joined(event: RoomEvent): void;
  left(event: RoomEvent): void;
}

export interface ChatSession {
  readonly client: Client;
  say(content: string, target: string): Promise<PublishResult>;
  leave(): Promise<void>;
}

export type BackendKind = "mqant" | "mqtt" | "websocket";

export interface ChatOptions {
  backend: BackendKind;
  url: string;
  user: string;
  room: string;
  store: OutboxStore;
  events: ChatEvents;
}

export function openChat(options: ChatOptions): ChatSession {
  if (options.backend === "mqant") return openMqantChat(options);
  const transport =
    options.backend === "websocket"
      ? websocket({ url: options.url })
      : mqtt({ url: options.url, envelope: true, protocolVersion: 4 });
  return openServiceChat(options, transport);
}

/** The mqant demo protocol: calls for login/join, a notify for Say, pushes on Chat/On*. */
function openMqantChat({ url, user, room, store, events }: ChatOptions): ChatSession {
  const client = createClient({
    transport: mqant({ url }),
    store,
    // A reconnect is a new anonymous gate session: log in and rejoin before anything flushes.
    onConnect: async (session) => {
      await session.call("Login", "HD_Login", { userName: user, passWord: "" });
      const joined = await session.call<{ users: string[] }>("Chat", "HD_JoinChat", { roomName: room });
      events.members(joined.users);
    },
  });
  client.subscribe<ChatLine>("Chat/OnChat", (m) => events.chat(m.data));
  client.subscribe<RoomEvent>("Chat/OnJoin", (m) => events.joined(m.data));
  client.subscribe<RoomEvent>("Chat/OnLeave", (m) => events.left(m.data));
  return {
    client,
    // A notify (no msgid) goes through the outbox; the gate answers it with pushes only.
    say: (content, target) => client.publish("Chat/HD_Say", { roomName: room, content, from: user, target }),
    leave: () => client.close(), // the gate has no leave: members are dropped lazily
  };
}

/** The gmq chat service: calls Chat.join/leave, say by publish, messages on chat/… topics. */
function openServiceChat({ user, room, store, events }: ChatOptions, transport: Transport): ChatSession {
  const client = createClient({
    transport,
    store,
    onConnect: async (session) => {
      const joined = await session.call<{ users: string[] }>("Chat", "join", { roomName: room, user });
      events.members(joined.users);
    },
  });
  client.subscribe<ChatLine>(`chat/room/${room}/OnChat`, (m) => events.chat(m.data));
  client.subscribe<ChatLine>(`chat/user/${user}/OnChat`, (m) => events.chat(m.data));
  client.subscribe<RoomEvent>(`chat/room/${room}/OnJoin`, (m) => events.joined(m.data));
  client.subscribe<RoomEvent>(`chat/room/${room}/OnLeave`, (m) => events.left(m.data));
  return {
    client,
    say: (content, target) =>
      client.publish(`chat/room/${room}/say`, { roomName: room, content, from: user, target }),
    leave: async () => {
      await client.call("Chat", "leave", { roomName: room, user }, { timeoutMs: 2_000 }).catch(() => {});
      await client.close();
    },
  };
}
