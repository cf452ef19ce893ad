"""The official OpenAI and Ollama Python SDKs, driven by tests/openai_api.rs and
tests/ollama_api.rs: one command (JSON, argv[1]) in, one JSON result on stdout.

A conversation command plays several turns the way chat applications do: each request
resends the whole history, with the replies received so far.
"""

import json
import sys


def failure(error):
    """What the SDK raised, for the test to check."""
    return {
        "error": {
            "class": type(error).__name__,
            "status": getattr(error, "status_code", None),
            "body": getattr(error, "body", None) or getattr(error, "error", None),
        }
    }


def openai_client(command):
    import openai

    headers = command.get("headers") or None
    return openai.OpenAI(
        base_url=command["base"] + "/v1",
        api_key=command.get("api_key") or "unused",
        max_retries=0,
        default_headers=headers,
    )


def openai_models(command):
    return {"ids": [model.id for model in openai_client(command).models.list()]}


def openai_model(command):
    return {"id": openai_client(command).models.retrieve(command["model"]).id}


def openai_conversation(command):
    client = openai_client(command)
    messages = list(command.get("history", []))
    turns = []
    for text in command["turns"]:
        messages.append({"role": "user", "content": text})
        options = {"model": command["model"], "messages": messages}
        if command.get("user"):
            options["user"] = command["user"]
        if command.get("stream"):
            if command.get("include_usage"):
                options["stream_options"] = {"include_usage": True}
            raw = client.chat.completions.with_raw_response.create(stream=True, **options)
            reply, finish, usage, chunks = "", None, None, 0
            for chunk in raw.parse():
                chunks += 1
                assert chunk.object == "chat.completion.chunk", chunk
                if chunk.usage is not None:
                    usage = chunk.usage.model_dump()
                for choice in chunk.choices:
                    reply += choice.delta.content or ""
                    finish = choice.finish_reason or finish
            turn = {"reply": reply, "finish_reason": finish, "usage": usage, "chunks": chunks}
        else:
            raw = client.chat.completions.with_raw_response.create(**options)
            completion = raw.parse()
            assert completion.object == "chat.completion", completion
            choice = completion.choices[0]
            turn = {
                "reply": choice.message.content,
                "finish_reason": choice.finish_reason,
                "usage": completion.usage.model_dump(),
            }
        turn["session"] = raw.headers.get("x-locrit-session")
        turns.append(turn)
        messages.append({"role": "assistant", "content": turn["reply"]})
    return {"turns": turns}


def ollama_client(command):
    import ollama

    return ollama.Client(host=command["base"], headers=command.get("headers"))


def ollama_version(command):
    import httpx  # the SDK has no call for it; its transport does

    return httpx.get(command["base"] + "/api/version").json()


def ollama_models(command):
    listed = ollama_client(command).list()
    return {"models": [model.model for model in listed.models]}


def ollama_show(command):
    shown = ollama_client(command).show(command["model"])
    return {"family": shown.details.family, "parent_model": shown.details.parent_model}


def ollama_conversation(command):
    client = ollama_client(command)
    messages = list(command.get("history", []))
    turns = []
    for text in command["turns"]:
        messages.append({"role": "user", "content": text})
        if command.get("stream"):
            reply, last, pieces = "", None, 0
            for part in client.chat(model=command["model"], messages=messages, stream=True):
                pieces += 1
                reply += part.message.content or ""
                last = part
        else:
            last = client.chat(model=command["model"], messages=messages, stream=False)
            reply, pieces = last.message.content, 1
        turns.append(
            {
                "reply": reply,
                "pieces": pieces,
                "done": last.done,
                "done_reason": last.done_reason,
                "prompt_eval_count": last.prompt_eval_count,
                "eval_count": last.eval_count,
            }
        )
        messages.append({"role": "assistant", "content": reply})
    return {"turns": turns}


COMMANDS = {
    "openai.models": openai_models,
    "openai.model": openai_model,
    "openai.conversation": openai_conversation,
    "ollama.version": ollama_version,
    "ollama.models": ollama_models,
    "ollama.show": ollama_show,
    "ollama.conversation": ollama_conversation,
}


def main():
    command = json.loads(sys.argv[1])
    try:
        result = COMMANDS[command["op"]](command)
    except Exception as error:  # noqa: BLE001 - the test reads what was raised
        result = failure(error)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
