"""A bare Cloud API responder for the dispatcher's benchmarks: it answers every request with
the same 200 a send gets from Meta (a fresh wamid each time) and does nothing else, so that
the server's own work is equal for every kind of message and as small as it can be (Meta's
servers are not on our cores). It does not check the body (an upload gets a media id): the stand-in
(`whatsapp_scheduler.sandbox`) is the faithful fake; this one measures the dispatcher alone.

Hand-written on asyncio's protocol layer, not aiohttp's server: the point is that it costs
next to nothing per request, less than any framework's request handling.

    .venv/bin/python bench/bare_meta.py --port 8099
"""

from __future__ import annotations

import argparse
import asyncio
import itertools

_counter = itertools.count()


class _Responder(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            length = 0
            for line in self.buffer[:head_end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            line = self.buffer[: self.buffer.find(b"\r\n")]
            request, self.buffer = self.buffer[head_end + 4 : end], self.buffer[end:]
            if b"/media " in line:  # an upload: Meta answers with the file's id
                self._answer(b'{"id":"bare-media-%d"}' % next(_counter))
                continue
            start = request.find(b'"to": "') + 7  # the recipient, for the answer's wa_id
            to = request[start : request.find(b'"', start)].lstrip(b"+")
            body = (
                b'{"messaging_product":"whatsapp","contacts":[{"input":"+%s","wa_id":"%s"}],'
                b'"messages":[{"id":"wamid.bare%d"}]}' % (to, to, next(_counter))
            )
            self._answer(body)

    def _answer(self, body: bytes) -> None:
        if self.transport.is_closing():  # the client went away (a drain's end)
            return
        self.transport.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Responder, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(serve(parser.parse_args().port))
