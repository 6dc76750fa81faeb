/**
 * The chat service behind `?backend=mqtt` and `?backend=websocket`: a Node program that serves the same Login/Join/Say
 * flow as the mqant demo, with gmq `handle` for calls and `subscribe` + `publish` for messages,
 * over any MQTT broker or a gmq hub.
 *
 *   call Chat.join  { roomName, user } -> { users }      (publishes chat/room/<r>/OnJoin)
 *   call Chat.leave { roomName, user } -> "ok"           (publishes chat/room/<r>/OnLeave)
 *   publish chat/room/<r>/say { content, from, target }  -> chat/room/<r>/OnChat ("*")
 *                                                         or chat/user/<target>/OnChat
 */
import { type Client, createClient, type Transport } from "gmq";
import { mqtt } from "gmq/mqtt";

interface SayRequest {
  roomName: string;
  content: string;
  from: string;
  target: string;
}

export interface ChatService {
  readonly client: Client;
  /** Room name -> members. */
  readonly rooms: ReadonlyMap<string, ReadonlySet<string>>;
  close(): Promise<void>;
}

const NAME = /^[A-Za-z0-9_\u4e00-\u9fa5]{1,20}$/;

function checkName(value: unknown, what: string): string {
  if (typeof value !== "string" || !NAME.test(value))
    throw new Error(`${what} must be 1-20 letters, digits or _`);
  return value;
}

/** `url`: an MQTT broker; `transport`: any other (e.g. `websocket()` to a gmq hub). */
export async function startChatService(
  options: { url: string } | { transport: Transport },
): Promise<ChatService> {
  const client = createClient({
    transport:
      "transport" in options
        ? options.transport
        : mqtt({ url: options.url, envelope: true, protocolVersion: 4, sharedSubscriptions: false }),
  });
  client.on("error", (error) => console.error("chat service:", error.message));
  const rooms = new Map<string, Set<string>>();
  const room = (name: string) => rooms.get(name) ?? rooms.set(name, new Set()).get(name)!;

  client.handle("Chat", "join", async (args: { roomName: string; user: string }) => {
    const roomName = checkName(args.roomName, "roomName");
    const user = checkName(args.user, "user");
    const members = room(roomName);
    const isNew = !members.has(user);
    members.add(user);
    if (isNew) await client.publish(`chat/room/${roomName}/OnJoin`, { roomName, user });
    return { users: [...members] };
  });

  client.handle("Chat", "leave", async (args: { roomName: string; user: string }) => {
    const members = rooms.get(args.roomName);
    if (members?.delete(args.user)) {
      await client.publish(`chat/room/${args.roomName}/OnLeave`, {
        roomName: args.roomName,
        user: args.user,
      });
    }
    return "ok";
  });

  // Say arrives as at-least-once publishes from the pages' outboxes; gmq drops redeliveries by id.
  client.subscribe<SayRequest>("chat/room/+/say", async (message) => {
    const { roomName, content, from, target } = message.data;
    if (typeof content !== "string" || content === "" || !rooms.get(roomName)?.has(from)) return;
    const line = { from, msg: content, roomName, target };
    if (target === "*") {
      await client.publish(`chat/room/${roomName}/OnChat`, line);
    } else {
      // Like the mqant demo: the sender gets no copy of a private message (the page shows its own).
      await client.publish(`chat/user/${target}/OnChat`, line);
    }
  });

  await client.connect({ timeoutMs: 10_000 });
  return { client, rooms, close: () => client.close() };
}
