"""A real python-socketio client that joins one session's room and follows the next
turn in it, wherever that turn was sent.

  python follower.py URL LOCRIT_NAME SESSION_ID

Prints "joined" once in the room, then one JSON line: {"chunks": [...], "end": event,
"data": its payload}.
"""

import json
import sys
import threading

import socketio


def in_order(client):
    """python-engineio runs each message's handler on a thread of its own, so two events
    can be handled in the wrong order: run them one after the other on the reading thread."""
    trigger = client.eio._trigger_event
    client.eio._trigger_event = lambda event, *args, **kw: trigger(
        event, *args, **(dict(kw, run_async=False) if event == "message" else kw))


def main():
    url, locrit, session = sys.argv[1], sys.argv[2], sys.argv[3]
    client = socketio.Client(reconnection=False)
    in_order(client)
    joined, ended = threading.Event(), threading.Event()
    turn = {"chunks": [], "end": None, "data": None}

    @client.on("joined_chat")
    def on_joined(_data):
        joined.set()

    @client.on("chat_chunk")
    def on_chunk(data):
        turn["chunks"].append(data["content"])

    def finish(kind):
        def handler(data):
            turn["end"], turn["data"] = kind, data
            ended.set()
        return handler

    client.on("chat_complete", finish("chat_complete"))
    client.on("error", finish("error"))
    client.connect(url, transports=["websocket"], wait_timeout=10)
    client.emit("join_chat", {"locrit_name": locrit, "session_id": session})
    if not joined.wait(10):
        print(json.dumps({"chunks": [], "end": "never joined", "data": None}), flush=True)
        return
    print("joined", flush=True)
    ended.wait(30)
    client.disconnect()
    print(json.dumps(turn), flush=True)


if __name__ == "__main__":
    main()
