"""A mail server for tests: speaks enough SMTP (RFC 5321: EHLO/HELO, MAIL, RCPT, DATA, RSET,
NOOP, QUIT) on 127.0.0.1 over TCP to take what ``smtplib`` sends, and keeps each message.
``refuse`` makes it answer DATA with a permanent refusal, as a server that rejects a message."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage


@dataclass
class Received:
    mail_from: str
    rcpt_to: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


@dataclass
class SmtpSink:
    port: int = 0
    messages: list[Received] = field(default_factory=list)
    refuse: bool = False

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")

        say("220 sink ESMTP")
        mail_from, rcpt_to = "", []
        while line := await reader.readline():
            verb = line[:4].decode(errors="replace").upper()
            if verb in ("EHLO", "HELO"):
                say("250 sink")
            elif verb == "MAIL":
                mail_from, rcpt_to = line.decode().split(":", 1)[1].strip().strip("<>"), []
                say("250 ok")
            elif verb == "RCPT":
                rcpt_to.append(line.decode().split(":", 1)[1].strip().strip("<>"))
                say("250 ok")
            elif verb == "DATA":
                say("354 go on")
                await writer.drain()
                lines = []
                while (chunk := await reader.readline()) not in (b".\r\n", b""):
                    lines.append(chunk[1:] if chunk.startswith(b"..") else chunk)  # dot-stuffing
                if self.refuse:
                    say("554 refused by the test")
                else:
                    self.messages.append(Received(mail_from, rcpt_to, b"".join(lines)))
                    say("250 queued")
            elif verb == "QUIT":
                say("221 bye")
                await writer.drain()
                break
            else:  # RSET, NOOP
                say("250 ok")
            await writer.drain()
        writer.close()


@contextmanager
def smtp_sink() -> Iterator[SmtpSink]:
    """A running sink on 127.0.0.1 (an ephemeral port), in a thread of its own."""
    sink = SmtpSink()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    server: asyncio.Server | None = None

    async def start() -> None:
        nonlocal server
        server = await asyncio.start_server(sink._session, "127.0.0.1", 0)
        sink.port = server.sockets[0].getsockname()[1]
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result()
    ready.wait()
    try:
        yield sink
    finally:
        async def stop() -> None:
            assert server is not None
            server.close()
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
