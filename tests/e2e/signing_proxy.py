"""A small authenticating reverse proxy on 127.0.0.1 for header-mode tests (HTTP and the
websocket Streamlit uses): it drops the client's copies of the user and groups headers and
sets its own, as the README's proxy contract requires."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
from aiohttp import web

from tests.fixtures.ports import free_port

HOP = {"host", "connection", "upgrade", "keep-alive", "transfer-encoding", "content-length",
       "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions",
       "content-encoding", "origin"}  # fmt: skip


def _upstream_headers(request: web.Request, identity: dict[str, str], upstream: str) -> dict:
    names = {n.lower() for n in identity}
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP | names}
    headers.update(identity)
    headers["Origin"] = upstream
    return headers


@contextmanager
def signing_proxy(upstream: str, identity: dict[str, str]) -> Iterator[str]:
    """Serve ``upstream`` on a new 127.0.0.1 port as the user ``identity`` names; yields its URL."""
    ws_upstream = upstream.replace("http://", "ws://")

    async def handle(request: web.Request) -> web.StreamResponse:
        headers = _upstream_headers(request, identity, upstream)
        session: aiohttp.ClientSession = request.app["session"]
        if request.headers.get("Upgrade", "").lower() == "websocket":
            protocols = [
                p.strip()
                for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")
                if p.strip()
            ]
            headers.pop("Sec-WebSocket-Protocol", None)
            client = web.WebSocketResponse(protocols=protocols, max_msg_size=0)
            await client.prepare(request)
            async with session.ws_connect(
                ws_upstream + request.path_qs, headers=headers, protocols=protocols, max_msg_size=0
            ) as server:

                async def pump(src, dst) -> None:  # type: ignore[no-untyped-def]
                    async for msg in src:
                        if msg.type == aiohttp.WSMsgType.BINARY:
                            await dst.send_bytes(msg.data)
                        elif msg.type == aiohttp.WSMsgType.TEXT:
                            await dst.send_str(msg.data)
                        else:
                            break
                    await dst.close()

                await asyncio.gather(pump(client, server), pump(server, client))
            return client
        async with session.request(
            request.method, upstream + request.path_qs, headers=headers,
            data=await request.read(), allow_redirects=False,
        ) as reply:  # fmt: skip
            body = await reply.read()
            out = {k: v for k, v in reply.headers.items() if k.lower() not in HOP}
            return web.Response(status=reply.status, body=body, headers=out)

    port = free_port()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, object] = {}

    async def start() -> None:
        app = web.Application()
        app["session"] = aiohttp.ClientSession(auto_decompress=True)
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        holder["runner"] = runner
        ready.set()

    def run() -> None:
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(30)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:

        async def stop() -> None:
            runner = holder["runner"]
            await runner.app["session"].close()  # type: ignore[attr-defined]
            await runner.cleanup()  # type: ignore[attr-defined]

        asyncio.run_coroutine_threadsafe(stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
