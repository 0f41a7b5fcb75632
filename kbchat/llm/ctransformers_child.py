"""The child process of the ctransformers engine, run as a plain script (``python -P``).

It is started as a script of its own, never through `multiprocessing`'s spawn: spawn runs the
parent's ``__main__`` again in the child, and under Streamlit (and its AppTest) that is the
UI script, so the child would run the whole app, llama.cpp included, before loading the model;
two ggml libraries in one process crash it. For the same reason it imports nothing of kbchat.

Protocol, over the connection whose descriptor is the first argument (pickled tuples):
``("ready", None)`` or ``("error", reason)`` once loaded; then ``("count", text)`` is answered
with ``("count", n)``, and ``("generate", prompt, max_tokens, temperature)`` with ``("delta",
text)`` messages and one ``("done", (tokens_in, tokens_out))``; a ``("stop",)`` sent during an
answer ends it early. A ``("stop",)`` that arrives after the answer's ``done`` (the parent
sent it while the child was finishing) is read and ignored.
"""

from __future__ import annotations

import signal
import sys
from multiprocessing.connection import Connection

INSTALL_HINT = "pip install 'kbchat[ctransformers]'"


def serve(conn: Connection, path: str, threads: int, context: int) -> None:
    """Load the model at ``path`` and answer requests until the parent closes the connection."""
    try:
        from ctransformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(
            path, model_type="llama", threads=threads, context_length=context
        )
    except ImportError:
        conn.send(("error", f"ctransformers is not installed: {INSTALL_HINT}"))
        return
    except Exception as err:  # noqa: BLE001 - the library's reason goes to the parent
        conn.send(("error", f"ctransformers cannot load it: {err}"))
        return
    conn.send(("ready", None))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request[0] == "stop":
            continue  # late: the answer it meant to stop had already ended
        if request[0] == "count":
            conn.send(("count", len(model.tokenize(request[1]))))
            continue
        _kind, prompt, max_tokens, temperature = request
        tokens = model.tokenize(prompt)
        produced = 0
        for token in model.generate(tokens, temperature=temperature, reset=True):
            if model.is_eos_token(token) or produced >= max_tokens:
                break
            produced += 1
            conn.send(("delta", model.detokenize([token])))
            if conn.poll(0) and conn.recv() == ("stop",):
                break
        conn.send(("done", (len(tokens), produced)))


def main(argv: list[str]) -> None:
    """Entry point: ``FD PATH THREADS CONTEXT``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    fd, path, threads, context = argv
    conn = Connection(int(fd))
    try:
        serve(conn, path, int(threads), int(context))
    finally:
        conn.close()


if __name__ == "__main__":
    main(sys.argv[1:])
