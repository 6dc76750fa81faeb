/**
 * Makes aedes keep packet identifiers unique within a persistent session.
 *
 * aedes starts each new connection's packet-id counter at a random number, while the messages it
 * sent on the previous connection and that were never acknowledged keep their old ids. When the
 * counter reaches one of those ids, two messages in flight share it; the subscriber's PUBACK for
 * one then clears the other from the session, and that message is never delivered (MQTT 3.1.1
 * §2.3.1 forbids reusing an id still in use). Seen as a run of lost messages after a broker
 * restart, in roughly one run in eight of a 10,000-message test.
 *
 * The fix sits on aedes's persistence interface: every QoS > 0 publish to a persistent session
 * passes `outgoingUpdate` just before it is written, and its PUBACK passes
 * `outgoingClearMessageId`. Tracking which ids are in flight per client there lets us move a
 * message whose id is taken to a free one before it goes out.
 */
import type { Aedes } from "aedes";

interface OutgoingPacket {
  messageId?: number;
  brokerId?: string;
  brokerCounter?: number;
}
interface SessionClient {
  id: string;
}
interface OutgoingPersistence {
  outgoingUpdate(client: SessionClient, packet: OutgoingPacket): Promise<unknown>;
  outgoingClearMessageId(client: SessionClient, packet: OutgoingPacket): Promise<unknown>;
}

const MAX_PACKET_ID = 0xffff;

export function keepPacketIdsUnique(aedes: Aedes): void {
  // Not in aedes's type declarations, but part of its documented persistence interface.
  const persistence = (aedes as unknown as { persistence: OutgoingPersistence }).persistence;
  /** Per client id: packet id → the message (broker id + counter) holding it. */
  const inFlight = new Map<string, Map<number, string>>();
  const idsOf = (clientId: string) => {
    let ids = inFlight.get(clientId);
    if (!ids) {
      ids = new Map();
      inFlight.set(clientId, ids);
    }
    return ids;
  };

  const update = persistence.outgoingUpdate.bind(persistence);
  persistence.outgoingUpdate = (client, packet) => {
    const ids = idsOf(client.id);
    const message = `${packet.brokerId}:${packet.brokerCounter}`;
    let id = packet.messageId;
    if (id !== undefined) {
      const holder = ids.get(id);
      if (holder !== undefined && holder !== message) {
        // aedes writes this same packet object once the update resolves, so the new id goes out.
        id = freeId(ids, id);
        packet.messageId = id;
      }
      ids.set(id, message);
    }
    return update(client, packet);
  };

  const clear = persistence.outgoingClearMessageId.bind(persistence);
  persistence.outgoingClearMessageId = (client, packet) => {
    if (packet.messageId !== undefined) inFlight.get(client.id)?.delete(packet.messageId);
    return clear(client, packet);
  };

  // A clean session starts with nothing in flight.
  aedes.on("client", (client) => {
    if (client.clean) inFlight.delete(client.id);
  });
}

function freeId(ids: Map<number, string>, from: number): number {
  for (let step = 1; step <= MAX_PACKET_ID; step++) {
    const id = ((from - 1 + step) % MAX_PACKET_ID) + 1;
    if (!ids.has(id)) return id;
  }
  throw new Error("all 65,535 packet ids are in flight");
}
