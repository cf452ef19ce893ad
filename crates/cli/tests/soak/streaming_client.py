"""The Socket.IO part of the soak run: one real python-socketio client sending chat
messages one after the other for SECONDS, each streamed back in chunks.

  python streaming_client.py URL LOCRIT_NAME SESSION_ID SECONDS

Prints one JSON line at the end: {"acknowledged": [texts whose chat_complete came, with
chunks making its response], "errors": [every error event or broken turn]}.
"""

import json
import sys
import threading
import time

import socketio


def in_order(client):
    """python-engineio runs each message's handler on a thread of its own, so two events
    can be handled in the wrong order: run them one after the other on the reading thread."""
    trigger = client.eio._trigger_event
    client.eio._trigger_event = lambda event, *args, **kw: trigger(
        event, *args, **(dict(kw, run_async=False) if event == "message" else kw))


def main():
    url, locrit, session, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    client = socketio.Client(reconnection=False)
    in_order(client)
    ended = threading.Condition()
    turn = {"chunks": [], "end": None}

    @client.on("chat_chunk")
    def chunk(data):
        turn["chunks"].append(data["content"])

    def finish(kind):
        def handler(data):
            with ended:
                turn["end"] = (kind, data)
                ended.notify_all()
        return handler

    client.on("chat_complete", finish("complete"))
    client.on("error", finish("error"))
    client.connect(url, transports=["websocket"], wait_timeout=10)
    acknowledged, errors = [], []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        text = f"socket.io message {len(acknowledged) + len(errors)}"
        turn["chunks"], turn["end"] = [], None
        client.emit("chat_message", {"locrit_name": locrit, "message": text, "session_id": session})
        with ended:
            ended.wait_for(lambda: turn["end"] is not None, timeout=30)
        kind, data = turn["end"] or ("timeout", None)
        if kind == "complete" and "".join(turn["chunks"]) == data["response"]:
            acknowledged.append(text)
        else:
            errors.append({"text": text, "kind": kind, "data": data})
    client.disconnect()
    print(json.dumps({"acknowledged": acknowledged, "errors": errors}), flush=True)


if __name__ == "__main__":
    main()
