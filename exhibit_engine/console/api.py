"""The operator's HTTP API: a FastAPI app over a :class:`~.hub.Hub` (``docs/console.md``).

:func:`create_app` builds it. Every command goes through :meth:`Hub.command`, the
controller's one command path, as the local peer of the caller's role::

    GET  /api/show   /api/nodes   /api/cues   /api/wall   /api/log   /api/events (SSE)
    GET  /metrics
    POST /api/go  next  back  pause  resume  panic    {delay?}
    POST /api/goto {cue}  /api/seek {position, rate?}  /api/blackout {on, fade?}
    POST /api/capture {tag}  /api/select {item}  /api/language {language}
    POST /api/nodes/{id}/restart (501: not in the protocol yet)
    POST /api/login  /api/logout (the token as an HttpOnly cookie, for EventSource)
    GET  /docs  /openapi.json

Answers: 200 with the reply's data; 400 bad arguments; 401 no valid token; 403 a kiosk
token outside ``GET /api/show``, ``POST /api/select`` and ``POST /api/language``; 409 the
controller refused; 503 the controller did not answer; every error ``{"error": "..."}``.

Authentication is an ASGI middleware in front of every route, the docs included, so a
route added later cannot skip it: ``Authorization: Bearer TOKEN`` (or the cookie that
``/api/login`` sets), whose SHA-256 is listed in ``[console] tokens``. Without tokens
every request is an operator's (``auth: "none"``); the server refuses that on any
address but loopback (:mod:`.server`). Tokens are never logged.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Protocol

from fastapi import Depends, FastAPI, Header, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    Response,
    StreamingResponse,
)
from fastapi.security import HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from ..config import ConsoleConfig, VenueConfig
from ..errors import SyncError
from ..keys.token import match_token
from ..wall.diagram import PALETTE
from ._models import (
    Blackout,
    Capture,
    CommandOut,
    CuesOut,
    Delay,
    ErrorOut,
    Goto,
    Language,
    LoginOut,
    LogOut,
    NodesOut,
    Seek,
    Select,
    ShowOut,
    WallOut,
)
from .hub import Hub, StreamEvent

__all__ = ["COOKIE", "KIOSK_ROUTES", "MAX_STREAMS", "Problem", "create_app", "sse"]

#: The cookie ``/api/login`` sets (HttpOnly, SameSite=Strict): a browser's EventSource
#: cannot send an Authorization header.
COOKIE = "exhibit_token"
#: The only routes a kiosk token may use.
KIOSK_ROUTES = frozenset({("GET", "/api/show"), ("POST", "/api/select"),
                          ("POST", "/api/language")})
#: Most event streams open at once; more are answered 503.
MAX_STREAMS = 256

_Metrics = Callable[[Mapping[str, Any], Mapping[str, float]], tuple[bytes, str]]


class _LogSource(Protocol):
    """What ``GET /api/log`` and the ``log`` events read (``console.logtail.LogTail``)."""

    def lines(self) -> list[dict[str, Any]]: ...

    def listen(self, listener: Callable[[dict[str, Any]], None]) -> Callable[[], None]: ...
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": what} for code, what in (
        (400, "Bad arguments"), (401, "No valid token"), (403, "Not for this token's role"),
        (409, "The controller refused the command"),
        (503, "The controller did not answer"))}


class Problem(Exception):
    """An answer other than 200: ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str, note: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.note = status, message, note

    def response(self) -> JSONResponse:
        """The JSON answer."""
        body = {"error": self.message} | ({"note": self.note} if self.note else {})
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else None
        return JSONResponse(body, self.status, headers=headers)


def sse(event: StreamEvent | None, kind: str = "", data: Any = None) -> str:
    """One server-sent event: ``id:`` (for a logged event), ``event:`` and ``data:``
    lines, then a blank line."""
    if event is not None:
        kind, data = event.kind, event.data
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)
    head = f"id: {event.id}\n" if event is not None else ""
    return f"{head}event: {kind}\ndata: {body}\n\n"


# --------------------------------------------------------------------------- auth


class _Auth:
    """Pure ASGI middleware: every HTTP request needs a valid token (when tokens exist);
    the role it grants goes to ``scope["state"]["role"]``."""

    def __init__(self, app: ASGIApp, config: ConsoleConfig, public: Iterable[str]) -> None:
        self.app, self.config, self.public = app, config, tuple(public)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in self.public or any(
                p.endswith("/") and len(p) > 1 and path.startswith(p) for p in self.public):
            await self.app(scope, receive, send)
            return
        role = "operator"
        if self.config.tokens:
            token = _presented(Request(scope))
            entry = match_token(token, self.config.tokens) if token else None
            if entry is None:
                why = "a valid token is required (Authorization: Bearer TOKEN)" if token is None \
                    else "the token is not valid here"
                await Problem(401, why).response()(scope, receive, send)
                return
            role = entry.role
            if role != "operator" and (scope["method"], scope["path"]) not in KIOSK_ROUTES:
                allowed = ", ".join(f"{m} {p}" for m, p in sorted(KIOSK_ROUTES))
                await Problem(403, f"a {role} token may use only {allowed}").response()(
                    scope, receive, send)
                return
        scope.setdefault("state", {})["role"] = role
        await self.app(scope, receive, send)


def _presented(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else ""
    cookie = request.cookies.get(COOKIE)
    return cookie if cookie else None


def _role(request: Request) -> str:
    return str(request.state.role)


# --------------------------------------------------------------------------- the app


def create_app(hub: Hub, config: ConsoleConfig | None = None, *,
               metrics: _Metrics | None = None, venue: VenueConfig | None = None,
               log: _LogSource | None = None, static: str | os.PathLike[str] | None = None,
               public: Iterable[str] = (), keepalive_s: float = 15.0,
               manage_hub: bool = True) -> FastAPI:
    """The console's FastAPI app.

    Args:
        hub: the link to the controller.
        config: ``[console]`` (its tokens and page languages); none: no tokens.
        metrics: ``metrics(status, counters) -> (body, content_type)`` for ``GET /metrics``
            (``counters``: events, state updates and heartbeats the controller published);
            without it that route answers 501.
        venue: the venue, for ``GET /api/wall`` (501 without) and its name.
        log: the process's warnings (``lines()``, ``listen(fn)``), for ``GET /api/log``
            and ``log`` events; without it ``GET /api/log`` answers 501.
        static: the status page's folder: ``GET /`` serves its ``index.html`` and
            ``/static/`` its files, both without a token (the page must load to ask for
            one; it holds no data, and every request it makes needs the token).
        public: more paths served without a token: exact paths, or prefixes ending in
            ``/``; the API's own routes are never public.
        keepalive_s: an idle event stream sends a comment line this often.
        manage_hub: start the hub with the app and stop it after (``False``: the caller
            does).
    """
    config = config or ConsoleConfig()
    auth = "token" if config.tokens else "none"

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if manage_hub:
            await hub.start()
        unlisten = log.listen(lambda line: hub.post("log", line)) if log is not None \
            else None
        try:
            yield
        finally:
            if unlisten is not None:
                unlisten()
            if manage_hub:
                await hub.stop()

    app = FastAPI(title="Exhibit Engine console", version="1",
                  description="The operator's API of an Exhibit Engine controller "
                              "(docs/console.md).",
                  docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan,
                  dependencies=[Depends(HTTPBearer(auto_error=False))],
                  responses=_ERRORS)
    public = (*public, "/", "/static/") if static is not None else tuple(public)
    app.add_middleware(_Auth, config=config, public=public)
    streams = {"open": 0}

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        name = request.url.path.rsplit("/", 1)[-1]
        return Problem(400, f"{name}: {where + ': ' if where else ''}"
                            f"{first.get('msg', 'bad request')}").response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return Problem(exc.status_code, str(exc.detail)).response()

    async def status() -> dict[str, Any]:
        if hub.status is None:
            try:
                return await hub.refresh()
            except SyncError as exc:
                raise Problem(503, str(exc)) from None
        return hub.status

    async def run(role: str, name: str, args: Mapping[str, Any]) -> CommandOut:
        try:
            result = await hub.command(role, name, args)
        except SyncError as exc:
            raise Problem(503, str(exc)) from None
        if not result.ok:
            raise Problem(400 if _bad_arguments(name, result.error) else 409, result.error)
        ignored = result.data.get("ignored")
        return CommandOut(command=name, data=dict(result.data),
                          ignored=str(ignored) if ignored else None)

    # ------------------------------------------------------------------ reading

    @app.get("/api/show", response_model=ShowOut, tags=["show"])
    async def get_show(role: str = Depends(_role)) -> ShowOut:
        """The show now: program, cue, next cue, paused, blackout, show time, session."""
        data = await status()
        show = data.get("show", {})
        current, nxt = _cue_index(hub, show.get("cue")), None
        if current is not None and show.get("program") == "main":
            nxt = _next(hub, current)
        return ShowOut(controller="ok" if hub.controller_ok else "lost",
                       status_age_s=round(hub.status_age(), 3),
                       session=str(data.get("session", "")), seq=int(data.get("seq", 0)),
                       show_time=float(data.get("show_time", 0.0)),
                       program=show.get("program"), cue=show.get("cue") or None,
                       cue_index=current, next_cue=_cue_id(hub, nxt),
                       paused=show.get("paused"), waiting=show.get("waiting"),
                       panic=show.get("panic"), blackout=show.get("blackout"),
                       open=show.get("open"), selected_item=show.get("selected_item"),
                       language=show.get("language"), insecure=str(data.get("insecure", "")),
                       state_save=data.get("state_save"), auth=auth, role=role,  # type: ignore[arg-type]
                       languages=list(config.languages),
                       venue=venue.name if venue is not None else "")

    @app.get("/api/nodes", response_model=NodesOut, tags=["show"])
    async def get_nodes() -> dict[str, Any]:
        """Every node (and kiosk, and console) the controller knows, with its health."""
        data = await status()
        return {"controller": "ok" if hub.controller_ok else "lost",
                "nodes": data.get("nodes", []), "omitted": data.get("omitted", 0),
                "trimmed": bool(data.get("trimmed", False))}

    @app.get("/api/cues", response_model=CuesOut, tags=["show"])
    async def get_cues() -> dict[str, Any]:
        """The main cue list, with the cue playing and the one GO goes to."""
        data = hub.status or {}
        show = data.get("show", {})
        current = _cue_index(hub, show.get("cue"))
        nxt = _next(hub, current) if current is not None and show.get("program") == "main" \
            else None
        cues = hub.show.cues if hub.show is not None else ()
        return {"cues": [{"index": i, "id": c.id, "bundle": c.bundle, "scene": c.scene,
                          "duration": c.duration, "transition": c.transition, "wait": c.wait}
                         for i, c in enumerate(cues)],
                "loop": hub.show.loop if hub.show is not None else False,
                "program": show.get("program"), "current": _cue_ref(hub, current),
                "next": _cue_ref(hub, nxt)}

    @app.get("/api/wall", response_model=WallOut, tags=["show"],
             responses={501: {"model": ErrorOut, "description": "No venue given"}})
    async def get_wall() -> dict[str, Any]:
        """The wall and its displays, as venue.toml describes them."""
        if venue is None:
            raise Problem(501, "this console was started without its venue")
        return {"venue": venue.name, "width": venue.wall.width, "height": venue.wall.height,
                "shape": venue.wall.shape,
                "displays": [{"id": d.id, "rect": list(d.rect), "pixels": list(d.pixels),
                              "colour": "#{:02x}{:02x}{:02x}".format(*PALETTE[i % len(PALETTE)])}
                             for i, d in enumerate(venue.displays)]}

    @app.get("/api/log", response_model=LogOut, tags=["show"],
             responses={501: {"model": ErrorOut, "description": "No log tail given"}})
    async def get_log() -> dict[str, Any]:
        """The last warnings the controller's process logged (new ones: ``log`` events)."""
        if log is None:
            raise Problem(501, "this console keeps no log")
        return {"lines": log.lines()}

    # ------------------------------------------------------------------ commands

    def simple(name: str, doc: str) -> None:
        async def endpoint(body: Delay | None = None, role: str = Depends(_role),
                           ) -> CommandOut:
            return await run(role, name, body.model_dump(exclude_none=True) if body else {})

        endpoint.__doc__ = doc
        app.post(f"/api/{name}", response_model=CommandOut, tags=["commands"],
                 name=name, operation_id=name)(endpoint)

    simple("go", "GO: the next cue of the main cue list, and play.")
    simple("next", "The next cue (as GO).")
    simple("back", "The previous cue.")
    simple("pause", "Hold the show time.")
    simple("resume", "Play on after a pause.")
    simple("panic", "Fade to black (a second panic is instant), as QLab's panic.")

    def with_body(name: str, model: type[Any], doc: str) -> None:
        async def endpoint(body: Any, role: str = Depends(_role)) -> CommandOut:
            return await run(role, name, body.model_dump(exclude_none=True))

        endpoint.__annotations__["body"] = model
        endpoint.__doc__ = doc
        app.post(f"/api/{name}", response_model=CommandOut, tags=["commands"],
                 name=name, operation_id=name)(endpoint)

    with_body("goto", Goto, "Go to a cue (id or index) and play from its start.")
    with_body("seek", Seek, "Jump to a show time.")
    with_body("blackout", Blackout, "Fade the wall to black, or back.")
    with_body("capture", Capture, "Every node saves the same frame.")
    with_body("select", Select, "Select an item (kiosk tokens too).")
    with_body("language", _languages(hub), "Set the visitors' language (kiosk tokens too).")

    @app.post("/api/nodes/{node_id}/restart", response_model=CommandOut, tags=["commands"],
              operation_id="restart")
    async def restart_node(node_id: str = Path(min_length=1, max_length=256),
                           role: str = Depends(_role)) -> CommandOut:
        """Restart a projector's process: it leaves and starts afresh with the same
        arguments, and is listed as loading meanwhile (409: no such projector)."""
        return await run(role, "restart", {"node": node_id})

    # ------------------------------------------------------------------ stream, login, docs

    @app.get("/api/events", tags=["show"], response_class=StreamingResponse,
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "Server-sent events (docs/console.md)"}})
    async def events(last_event_id: str | None = Header(None, max_length=32)) -> Response:
        """Server-sent events: state, event, status (with ids; resume with Last-Event-ID),
        clock (once a second, no id), reset (the ring no longer holds what was missed)."""
        if streams["open"] >= MAX_STREAMS:
            raise Problem(503, f"{MAX_STREAMS} event streams are open already")
        last = _last_id(last_event_id)

        async def body() -> AsyncIterator[str]:
            streams["open"] += 1        # here: a stream never started is never counted
            try:
                async for chunk in _stream(hub, last, keepalive_s):
                    yield chunk
            finally:
                streams["open"] -= 1

        return StreamingResponse(body(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache",
                                          "X-Accel-Buffering": "no"})

    @app.post("/api/login", response_model=LoginOut, tags=["auth"])
    async def login(request: Request, role: str = Depends(_role)) -> JSONResponse:
        """Check the token and keep it in an HttpOnly cookie (for the page's EventSource)."""
        response = JSONResponse({"role": role, "auth": auth})
        token = _presented(request)
        if token:
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
        return response

    @app.post("/api/logout", tags=["auth"], status_code=204)
    async def logout() -> Response:
        """Forget the cookie."""
        response = Response(status_code=204)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    @app.get("/metrics", tags=["metrics"], response_class=Response,
             responses={200: {"content": {"text/plain": {}}},
                        501: {"model": ErrorOut, "description": "No metrics yet"}})
    async def get_metrics() -> Response:
        """Prometheus metrics of the wall (text format)."""
        if metrics is None:
            raise Problem(501, "metrics are not part of this console yet")
        counts = hub.counters
        body, content_type = metrics(hub.status or {}, {
            "events": counts.get("Event", 0), "state_updates": counts.get("KeyUpdate", 0),
            "heartbeats": counts.get("Heartbeat", 0)})
        return Response(body, media_type=content_type)

    if static is not None:
        page = os.path.join(os.fspath(static), "index.html")
        app.mount("/static", StaticFiles(directory=os.fspath(static)), name="static")

        @app.get("/", include_in_schema=False)
        async def index() -> FileResponse:
            return FileResponse(page, headers={"Cache-Control": "no-cache"})

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi() -> JSONResponse:
        return JSONResponse(_without_422(app.openapi()))

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=app.title + " - docs")

    return app


# --------------------------------------------------------------------------- helpers


def _without_422(doc: dict[str, Any]) -> dict[str, Any]:
    """The document without FastAPI's 422 answers: a body that fails its model is 400
    here (documented on every route)."""
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    return doc


def _languages(hub: Hub) -> type[Language]:
    """``language``'s body with the show's own languages (its title's, as the controller
    judges them), so the schema lists exactly those."""
    from typing import Literal

    from pydantic import Field, create_model

    from ..sync._show import DEFAULT_LANGUAGES

    langs = tuple(hub.show.title) if hub.show is not None and hub.show.title else \
        DEFAULT_LANGUAGES
    field = Field(description="One of the show's languages: " + ", ".join(langs))
    return create_model("Language", __base__=Language,
                        language=(Literal[langs], field))  # type: ignore[valid-type]


def _bad_arguments(name: str, error: str) -> bool:
    """Whether a refusal is about the arguments: :mod:`~exhibit_engine.sync.commands`
    words those ``"NAME: 'ARG' ..."`` or ``"NAME: unknown argument ..."``."""
    return error.startswith((f"{name}: '", f"{name}: unknown argument",
                             f"{name}: arguments must"))


def _last_id(header: str | None) -> int | None:
    if header is None or not header.strip():
        return None
    try:
        return int(header.strip())
    except ValueError:
        return -1           # not one of ours: too old, so the stream starts with a reset


def _cue_index(hub: Hub, cue_id: Any) -> int | None:
    if hub.show is None or not cue_id:
        return None
    return next((i for i, c in enumerate(hub.show.cues) if c.id == cue_id), None)


def _cue_id(hub: Hub, index: int | None) -> str | None:
    return hub.show.cues[index].id if hub.show is not None and index is not None else None


def _cue_ref(hub: Hub, index: int | None) -> dict[str, Any] | None:
    cue_id = _cue_id(hub, index)
    return {"index": index, "id": cue_id} if cue_id is not None else None


def _next(hub: Hub, index: int) -> int | None:
    cues = hub.show.cues if hub.show is not None else ()
    if index + 1 < len(cues):
        return index + 1
    return 0 if cues and hub.show is not None and hub.show.loop else None


async def _stream(hub: Hub, last: int | None, keepalive_s: float) -> AsyncIterator[str]:
    """The event stream: a replay after ``last`` (or a reset), then live events."""
    yield "retry: 1000\n\n"
    sent, clock_sent = hub.log.last_id, -1
    if last is not None:
        replay = hub.log.since(last)
        if replay is None:
            yield sse(None, "reset", {"last_id": hub.log.last_id,
                                      "reason": "the events after that id are gone"})
        else:
            sent = last
    while not hub.closing:
        changed = hub.changed()
        news = hub.log.since(sent)
        if news is None:    # this stream fell behind the whole ring
            sent, news = hub.log.last_id, []
            yield sse(None, "reset", {"last_id": sent, "reason": "the stream fell behind"})
        for event in news:
            yield sse(event)
            sent = event.id
        if hub.clock is not None and hub.clock_count != clock_sent:
            clock_sent = hub.clock_count
            yield sse(None, "clock", hub.clock)
        if not await hub.wait(changed, keepalive_s):
            yield ": keep-alive\n\n"
