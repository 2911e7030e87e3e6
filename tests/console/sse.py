"""A tiny server-sent-events reader for the tests: a thread reads the stream's lines and
a queue hands whole events over, so a test waits with a deadline, never a sleep."""

from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Sse:
    """One event (``kind`` "comment" for a comment line)."""

    kind: str
    data: Any = None
    id: int | None = None


def parse(lines: list[str]) -> Sse | None:
    """One event's lines (without the blank line) -> an event; ``None`` for a lone
    ``retry:`` line."""
    fields: dict[str, str] = {}
    data: list[str] = []
    for line in lines:
        if line.startswith(":"):
            return Sse("comment", line[1:].strip())
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        else:
            fields[name] = value
    if not data:
        return None
    return Sse(fields.get("event", "message"), json.loads("\n".join(data)),
               int(fields["id"]) if "id" in fields else None)


class SseReader:
    """Reads ``url``'s event stream in a thread; :meth:`next` takes events in order."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.events: queue.SimpleQueue[Sse | BaseException] = queue.SimpleQueue()
        self.status: int | None = None
        self._opened = threading.Event()
        self._client = httpx.Client(timeout=httpx.Timeout(10.0, read=None))
        self._response: httpx.Response | None = None
        self._thread = threading.Thread(target=self._read, args=(url, headers or {}),
                                        daemon=True)
        self._thread.start()
        if not self._opened.wait(10.0):
            raise AssertionError("the event stream did not open")

    def _read(self, url: str, headers: dict[str, str]) -> None:
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                self._response = response
                self.status = response.status_code
                self.content_type = response.headers.get("content-type", "")
                self._opened.set()
                lines: list[str] = []
                for line in response.iter_lines():
                    if line:
                        lines.append(line)
                        continue
                    event = parse(lines) if lines else None
                    lines = []
                    if event is not None:
                        self.events.put(event)
            self.events.put(EOFError("the server ended the stream"))
        except BaseException as exc:    # closed from the test, or the server stopped
            self.events.put(exc)
        finally:
            self._opened.set()

    def next(self, kind: str | None = None, timeout: float = 5.0) -> Sse:
        """The next event (of ``kind``, skipping others) within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind or 'event'} within {timeout} s")
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if isinstance(event, BaseException):
                raise AssertionError(f"the stream ended: {event!r}")
            if kind is None or event.kind == kind:
                return event

    def close(self) -> None:
        """Close the stream and join the reader (safe twice)."""
        if self._response is not None:
            self._response.close()
        self._client.close()
        self._thread.join(5.0)
