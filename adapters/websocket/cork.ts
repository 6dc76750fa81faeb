/**
 * Node only (`ws`): the frames of one turn of the event loop leave in one write. The TCP socket
 * under the WebSocket is corked at the first frame and uncorked after the turn's I/O, so a burst
 * of publishes costs one system call, not one each. Browsers batch by themselves (and have no
 * `setImmediate`): their build of `gmq/websocket` leaves this out.
 */
export function corkTurn(socket: object): void {
  const tcp = (socket as { _socket?: { writableCorked: number; cork(): void; uncork(): void } })._socket;
  if (tcp?.writableCorked === 0) {
    tcp.cork();
    setImmediate(() => tcp.uncork());
  }
}
