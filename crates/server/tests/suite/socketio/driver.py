"""Real python-socketio clients, driven by the Rust Socket.IO tests.

Reads one JSON command per line on stdin and answers each with one JSON line on
stdout. Every client records every event it receives, in order, as [name, data].

  {"cmd": "connect", "client": "a", "url": "http://127.0.0.1:1234", "namespace": "/chat",
   "transports": ["polling"] | ["websocket"] | null, "headers": {...}, "auth": {...}?}
      -> {"ok": true, "transport": "polling"} or {"ok": false, "error": "..."}
  {"cmd": "emit", "client": "a", "event": "chat_message", "data": {...}}  (data may be absent)
  {"cmd": "wait", "client": "a", "event": "chat_complete", "count": 1, "timeout": 10}
      -> {"ok": <count reached>, "events": [...]}
  {"cmd": "events", "client": "a"}   -> {"ok": true, "events": [...]}
  {"cmd": "transport", "client": "a"} -> {"ok": true, "transport": "websocket"}
  {"cmd": "disconnect", "client": "a"}
"""

import json
import sys
from importlib.metadata import version
import threading
import time

import socketio


def in_order(client):
    """python-engineio runs each message's handler on a thread of its own, so two events
    can be handled in the wrong order: run them one after the other on the reading thread."""
    trigger = client.eio._trigger_event
    client.eio._trigger_event = lambda event, *args, **kw: trigger(
        event, *args, **(dict(kw, run_async=False) if event == "message" else kw))


class Recorder:
    def __init__(self, namespace):
        self.namespace = namespace
        self.events = []
        self.changed = threading.Condition()
        self.client = socketio.Client(reconnection=False)
        in_order(self.client)
        self.client.on("*", self._event, namespace=namespace)
        self.client.on("disconnect", self._disconnected, namespace=namespace)

    def _record(self, name, data):
        with self.changed:
            self.events.append([name, data])
            self.changed.notify_all()

    def _event(self, event, *args):
        self._record(event, args[0] if len(args) == 1 else list(args))

    def _disconnected(self, *args):
        self._record("disconnect", None)

    def count(self, event):
        return sum(1 for name, _ in self.events if name == event)

    def wait(self, event, count, timeout):
        deadline = time.monotonic() + timeout
        with self.changed:
            while self.count(event) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(left)
            return True

    def snapshot(self):
        with self.changed:
            return list(self.events)


def main():
    clients = {}
    print(json.dumps({"ready": True, "version": version("python-socketio")}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        try:
            answer = run(clients, command)
        except Exception as error:  # noqa: BLE001 - every failure goes back to the test
            answer = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        print(json.dumps(answer), flush=True)
    for recorder in clients.values():
        threading.Thread(target=recorder.client.disconnect, daemon=True).start()


def run(clients, command):
    cmd = command["cmd"]
    name = command.get("client")
    if cmd == "connect":
        recorder = Recorder(command.get("namespace", "/"))
        clients[name] = recorder
        recorder.client.connect(
            command["url"],
            namespaces=[recorder.namespace],
            transports=command.get("transports"),
            headers=command.get("headers") or {},
            auth=command.get("auth"),
            wait_timeout=10,
        )
        return {"ok": True, "transport": recorder.client.transport()}
    recorder = clients[name]
    if cmd == "emit":
        if "data" in command:
            recorder.client.emit(command["event"], command["data"], namespace=recorder.namespace)
        else:
            recorder.client.emit(command["event"], namespace=recorder.namespace)
        return {"ok": True}
    if cmd == "wait":
        reached = recorder.wait(command["event"], command.get("count", 1), command.get("timeout", 10))
        return {"ok": reached, "events": recorder.snapshot()}
    if cmd == "events":
        return {"ok": True, "events": recorder.snapshot()}
    if cmd == "transport":
        return {"ok": True, "transport": recorder.client.transport()}
    if cmd == "disconnect":
        # python-socketio waits for its pending long-poll to return; engineioxide may
        # answer it only at the next ping (25 s). The server has closed the session by
        # then, so the test need not wait for it.
        closing = threading.Thread(target=recorder.client.disconnect, daemon=True)
        closing.start()
        closing.join(3)
        return {"ok": True, "finished": not closing.is_alive()}
    return {"ok": False, "error": f"unknown command {cmd}"}


if __name__ == "__main__":
    main()
