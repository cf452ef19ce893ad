// The server's Socket.IO: live chat rooms and memory events. One connection per tab.
import { io } from "../vendor/socket.io.esm.min.js";

let socket;

export function live() {
  // WebSocket first; long-polling where a proxy does not pass WebSocket upgrades.
  socket ??= io({ transports: ["websocket", "polling"], tryAllTransports: true });
  return socket;
}

/** Listens to `event` until the returned function is called. */
export function listen(event, handler) {
  const s = live();
  s.on(event, handler);
  return () => s.off(event, handler);
}

/** Emits now, and again after every reconnection (rooms are per connection). */
export function keep(event, payload) {
  live().emit(event, payload);
  return onReconnect(() => live().emit(event, payload));
}

/** Calls `handler` after every reconnection: what happened meanwhile was missed. */
export function onReconnect(handler) {
  const s = live();
  s.io.on("reconnect", handler);
  return () => s.io.off("reconnect", handler);
}
