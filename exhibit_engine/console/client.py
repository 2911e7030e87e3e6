"""A client of the console's HTTP API, for ``exhibit status``, ``exhibit ctl`` and
``exhibit kiosk`` with ``--http URL --token FILE``.

It has the same face as :class:`~exhibit_engine.sync.operator.OperatorClient`
(``command(name, **args)`` returns the reply's data, ``close()``), so the commands print
the same lines whichever way they reach the controller. ``status`` is put together from
``GET /api/show`` and ``GET /api/nodes`` in the shape of the controller's own ``status``
reply (docs/protocol.md §7); every other command is ``POST /api/NAME``.

Standard library only (``urllib``): a command-line run sends one or two requests.
Errors are one line naming the URL: a token the console refuses (401) or that may not send
the command (403), a command the controller refused or whose arguments are wrong (its
reason), a controller that does not answer (503, a :class:`SyncTimeout`), a console that
cannot be reached.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from ..errors import ConfigError, SyncError, SyncTimeout

__all__ = ["ConsoleClient", "read_token"]


def read_token(path: str) -> str:
    """The token in ``path`` (``NAME.token`` from ``exhibit keys new NAME --kind token``).

    Raises:
        ConfigError: the file cannot be read or holds no token.
    """
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read(4096)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, f"cannot read the token file "
                          f"({getattr(exc, 'strerror', None) or exc})") from None
    lines = [ln.strip() for ln in text.splitlines()
             if ln.strip() and not ln.lstrip().startswith("#")]
    if len(lines) != 1 or any(c.isspace() for c in lines[0]):
        raise ConfigError(path, "a token file holds one token on one line")
    return lines[0]


class ConsoleClient:
    """Sends commands to a controller through its console's HTTP API.

    Args:
        url: the console's address, e.g. ``http://127.0.0.1:8080``.
        token: the bearer token (``None``: a console without tokens, on loopback).
        timeout_s: how long each request may take.

    Raises:
        ConfigError: ``url`` is not an http(s) URL.
    """

    def __init__(self, url: str, token: str | None = None, timeout_s: float = 2.0) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError("<flags>", f"{url!r} is not an http:// or https:// URL",
                              key="--http")
        self.url = url.rstrip("/")
        self._token = token
        self.timeout_s = timeout_s

    def __enter__(self) -> ConsoleClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to close (one connection per request); for the common face."""

    def command(self, name: str, **args: Any) -> dict[str, Any]:
        """Carry out command ``name`` and return its reply data, as the controller's.

        Raises:
            SyncTimeout: the console or the controller did not answer in time.
            SyncError: the console refused the token, or the controller the command.
        """
        if name == "status":
            show = self._call("GET", "/api/show")
            nodes = self._call("GET", "/api/nodes")
            return _status(show, nodes)
        answer = self._call("POST", f"/api/{urllib.parse.quote(name, safe='')}", args)
        data = dict(answer.get("data") or {})
        if answer.get("ignored"):
            data["ignored"] = answer["ignored"]
        return data

    def select(self, item: str, delay: float | None = None) -> dict[str, Any]:
        """A kiosk's ``select`` (a kiosk token may send it)."""
        return self.command("select", item=item, **({} if delay is None else {"delay": delay}))

    def touch(self) -> dict[str, Any]:
        """A kiosk's ``touch``: not in the console's API (a kiosk sends it on the show
        network, where the idle timer lives).

        Raises:
            SyncError: always.
        """
        raise SyncError(f"{self.url}: the console takes no touch; a kiosk sends it to the "
                        "controller directly (without --http)")

    def language(self, language: str) -> dict[str, Any]:
        """A kiosk's ``language``."""
        return self.command("language", language=language)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None,
              ) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.url + path, data=data, headers=headers,
                                     method=method)
        where = f"{self.url}{path}"
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as res:
                return _json(res.read(), where)
        except urllib.error.HTTPError as exc:
            why = _json(exc.read(), where).get("error") or exc.reason
            if exc.code == 401:
                raise SyncError(f"{self.url}: the console refused the token ({why}); give "
                                "--token NAME.token listed in [console] tokens") from None
            if exc.code == 503:
                raise SyncTimeout(self.url, f"the controller behind the console does not "
                                  f"answer ({why})") from None
            raise SyncError(f"{self.url}: {why}") from None
        except TimeoutError:
            raise SyncTimeout(self.url, f"no answer within {self.timeout_s:g} s") from None
        except urllib.error.URLError as exc:
            raise SyncError(f"{self.url}: cannot reach the console ({exc.reason})") from None
        except OSError as exc:
            raise SyncError(f"{self.url}: cannot reach the console ({exc})") from None


def _json(raw: bytes, where: str) -> dict[str, Any]:
    try:
        value = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise SyncError(f"{where}: the console's answer is not JSON") from None
    return value if isinstance(value, dict) else {}


def _status(show: dict[str, Any], nodes: dict[str, Any]) -> dict[str, Any]:
    """The controller's ``status`` reply, from the console's show and nodes."""
    out: dict[str, Any] = {
        "show_time": show.get("show_time", 0.0), "session": show.get("session", ""),
        "seq": show.get("seq", 0), "nodes": list(nodes.get("nodes") or []),
    }
    if show.get("program") is not None:          # a show with a cue list
        out["show"] = {k: show.get(k) for k in ("program", "cue", "paused", "waiting",
                                                "panic", "blackout", "open")}
        out["show"]["cue"] = out["show"]["cue"] or ""
    for key in ("insecure", "state_save"):
        if show.get(key):
            out[key] = show[key]
    if nodes.get("omitted"):
        out["omitted"] = nodes["omitted"]
    if show.get("controller") == "lost":
        raise SyncTimeout(show.get("venue") or "console", "the console has lost its "
                          "controller")
    return out
