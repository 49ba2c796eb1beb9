"""A fast stand-in for ihuyi's Submit endpoint, for the benchmarks: ``python -m benchmarks.fake_provider``.

Speaks just enough HTTP/1.1 (keep-alive, Content-Length bodies) to answer every
request ``{"code":2,"msg":"提交成功","smsid":"<n>"}`` at once, from an asyncio
server in a process of its own, so that it costs the measured side as little
as possible and the same for every side. Prints ``port <n>`` when it listens;
``--processes N`` forks N accepting processes on one port (SO_REUSEPORT).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import socket
import sys

_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
    b"Connection: keep-alive\r\nContent-Length: %d\r\n\r\n"
)


class _Provider(asyncio.Protocol):
    counter = itertools.count(10**17 + os.getpid() * 10**8)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].lower()
            length = 0
            marker = head.find(b"content-length:")
            if marker >= 0:
                line_end = head.find(b"\r\n", marker)
                length = int(head[marker + 15 : line_end if line_end >= 0 else len(head)])
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            self.buffer = self.buffer[end:]
            body = b'{"code":2,"msg":"\xe6\x8f\x90\xe4\xba\xa4\xe6\x88\x90\xe5\x8a\x9f","smsid":"%d"}' % next(self.counter)
            self.transport.write(_HEAD % len(body) + body)  # type: ignore[attr-defined]


def _listen(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _serve(sock: socket.socket) -> None:
    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_Provider, sock=sock)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args()
    first = _listen(0)
    port = first.getsockname()[1]
    for _ in range(args.processes - 1):
        if os.fork() == 0:
            _serve(_listen(port))
            return
    print(f"port {port}", flush=True)
    sys.stdout.close()
    _serve(first)


if __name__ == "__main__":
    main()
