"""The console's HTTP API over a controller core: every endpoint, the token rule, kiosk
limits, errors (400 / 409 / 503), the OpenAPI document."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from starlette.routing import Route

from exhibit_engine.config import ConsoleConfig, ConsoleToken
from exhibit_engine.console.api import COOKIE, KIOSK_ROUTES, create_app
from exhibit_engine.console.hub import Hub
from exhibit_engine.console.server import check_bind
from exhibit_engine.errors import ConfigError
from exhibit_engine.keys import token_sha256

from .conftest import KIOSK, OPERATOR, SHOW, TOKENS, CoreController

OP = {"Authorization": f"Bearer {OPERATOR}"}
KI = {"Authorization": f"Bearer {KIOSK}"}


def every_route() -> list[tuple[str, str]]:
    """(method, path) of every route the app has, path parameters filled in."""
    controller = CoreController()
    app = create_app(Hub(controller.request, controller.listen, show=SHOW), TOKENS)
    out = []
    for route in app.routes:
        assert isinstance(route, Route)
        path = re.sub(r"\{[^}]+\}", "a", route.path)
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                out.append((method, path))
    return out


ROUTES = every_route()


def test_the_route_list_is_the_whole_api() -> None:
    paths = {p for _, p in ROUTES}
    assert {"/api/show", "/api/nodes", "/api/cues", "/api/events", "/api/go", "/api/goto",
            "/api/seek", "/api/blackout", "/api/panic", "/api/capture", "/api/select",
            "/api/language", "/api/nodes/a/restart", "/metrics", "/docs",
            "/openapi.json"} <= paths


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_answers_401_without_a_valid_token(make_client, method: str,
                                                       path: str) -> None:
    client = make_client(TOKENS)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"},
                    {"Authorization": f"Bearer {OPERATOR}x"}, {"Cookie": f"{COOKIE}=wrong"}):
        answer = client.request(method, path, headers=headers)
        assert answer.status_code == 401, (headers, answer.text)
        assert answer.headers["www-authenticate"] == "Bearer"
        assert "error" in answer.json()


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_a_kiosk_token_may_use_only_the_kiosk_routes(make_client, method: str,
                                                     path: str) -> None:
    client = make_client(TOKENS)
    answer = client.request(method, path, headers=KI, json={"item": "x"}
                            if path == "/api/select" else {"language": "en"})
    if (method, path) in KIOSK_ROUTES:
        assert answer.status_code == 200, answer.text
    else:
        assert answer.status_code == 403
        assert "kiosk token may use only" in answer.json()["error"]


def test_kiosk_commands_go_to_the_controller_as_the_kiosk_peer(make_client, controller
                                                               ) -> None:
    client = make_client(TOKENS)
    assert client.post("/api/language", headers=KI, json={"language": "zh"}).json()[
        "data"]["language"] == "zh"
    assert client.get("/api/show", headers=KI).json()["role"] == "kiosk"
    peers = {(peer, role) for peer, role, _ in controller.requests}
    assert ("console-kiosk", "kiosk") in peers


def test_the_show_says_which_item_and_language_the_wall_was_asked_to_show(make_client
                                                                         ) -> None:
    client = make_client(TOKENS)
    show = client.get("/api/show", headers=OP).json()
    assert (show["selected_item"], show["language"]) == (None, None)
    assert client.post("/api/select", headers=KI, json={"item": "vase"}).status_code == 200
    assert client.post("/api/language", headers=KI, json={"language": "zh"}
                       ).status_code == 200
    # A console's status is its last poll: a fresh console asks anew.
    show = make_client(TOKENS).get("/api/show", headers=OP).json()
    assert (show["selected_item"], show["language"]) == ("vase", "zh")


def test_an_operator_token_and_the_login_cookie(make_client) -> None:
    client = make_client(TOKENS)
    show = client.get("/api/show", headers=OP).json()
    assert (show["auth"], show["role"]) == ("token", "operator")
    login = client.post("/api/login", headers=OP)
    assert login.json() == {"role": "operator", "auth": "token"}
    cookie = login.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    assert client.get("/api/nodes").status_code == 200          # the cookie now
    assert client.post("/api/logout").status_code == 204
    client.cookies.clear()
    assert client.get("/api/nodes").status_code == 401


def test_without_tokens_every_request_is_an_operators(make_client) -> None:
    client = make_client()
    show = client.get("/api/show").json()
    assert (show["auth"], show["role"]) == ("none", "operator")
    assert client.post("/api/go").status_code == 200


def test_a_console_off_loopback_needs_tokens() -> None:
    check_bind("127.0.0.1", ConsoleConfig())
    check_bind("::1", ConsoleConfig())
    check_bind("0.0.0.0", TOKENS)
    with pytest.raises(ConfigError, match="without tokens") as err:
        check_bind("0.0.0.0", ConsoleConfig(), "venue.toml")
    assert str(err.value).startswith("venue.toml: console.tokens: ")


def test_show_cues_and_nodes(make_client, controller) -> None:
    controller.node("left")
    client = make_client(TOKENS)
    show = client.get("/api/show", headers=OP).json()
    assert show["controller"] == "ok"
    assert (show["program"], show["cue"], show["cue_index"], show["next_cue"]) == (
        "main", "intro", 0, "hall")
    assert show["session"] == "sess" and show["languages"] == ["en", "zh"]
    cues = client.get("/api/cues", headers=OP).json()
    assert [c["id"] for c in cues["cues"]] == ["intro", "hall", "end"]
    assert cues["cues"][1] == {"index": 1, "id": "hall", "bundle": "b", "scene": "s2",
                               "duration": 20.0, "transition": "cut", "wait": False}
    assert cues["current"] == {"index": 0, "id": "intro"}
    assert (cues["next"], cues["loop"], cues["program"]) == ({"index": 1, "id": "hall"}, True,
                                                            "main")
    nodes = client.get("/api/nodes", headers=OP).json()
    left = next(n for n in nodes["nodes"] if n["id"] == "left")
    assert (left["role"], left["state"], left["frames"]) == ("projector", "joined", 10)


COMMANDS: list[tuple[str, dict[str, Any] | None, str, Any]] = [
    ("go", None, "cue", "hall"),
    ("next", {"delay": 0.0}, "cue", "hall"),
    ("back", None, "program", "main"),
    ("pause", {}, "program", "main"),
    ("resume", None, "ignored", None),          # not paused: the controller says so
    ("panic", None, "program", "main"),
    ("goto", {"cue": "end"}, "cue", "end"),
    ("goto", {"cue": 1}, "cue", "hall"),
    ("seek", {"position": 5.0}, "position", 5.0),
    ("blackout", {"on": True, "fade": 1.0}, "on", True),
    ("capture", {"tag": "still"}, "seq", 1),
    ("select", {"item": "stone"}, "seq", 1),
    ("language", {"language": "en"}, "language", "en"),
]


@pytest.mark.parametrize(("name", "body", "key", "value"), COMMANDS)
def test_every_command_goes_through_the_controller(make_client, controller, name: str,
                                                   body: dict[str, Any] | None, key: str,
                                                   value: Any) -> None:
    client = make_client(TOKENS)
    answer = client.post(f"/api/{name}", headers=OP, json=body)
    assert answer.status_code == 200, answer.text
    out = answer.json()
    assert (out["ok"], out["command"]) == (True, name)
    assert out["data"][key] == value if value is not None else out["data"][key]
    assert out["ignored"] == out["data"].get("ignored")
    sent = [m for peer, role, m in controller.requests
            if peer == "console" and getattr(m, "name", None) == name]
    assert len(sent) == 1 and sent[0].args == (body or {})


@pytest.mark.parametrize(("name", "body", "status", "words"), [
    ("goto", {"cue": "nope"}, 409, "goto: no cue 'nope'"),
    ("go", {"delay": 30.0}, 400, "go: delay:"),
    ("go", {"speed": 1.0}, 400, "go: speed: Extra inputs"),
    ("blackout", {"on": 1}, 400, "blackout: on:"),
    ("blackout", {}, 400, "blackout: on: Field required"),
    ("seek", {"position": "5"}, 400, "seek: position:"),
    # The schema holds the show's own rules, so these are judged before the controller:
    ("seek", {"position": 5.0, "rate": -1.0}, 400, "seek: rate: Input should be greater"),
    ("capture", {"tag": "../x"}, 400, "capture: tag: String should match pattern"),
    ("language", {"language": "fr"}, 400, "language: language: Input should be 'en' or"),
    ("goto", None, 400, "goto: Field required"),
])
def test_bad_arguments_are_400_and_refusals_409(make_client, name: str,
                                                body: dict[str, Any] | None, status: int,
                                                words: str) -> None:
    client = make_client(TOKENS)
    answer = client.post(f"/api/{name}", headers=OP, json=body)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"].startswith(words), answer.json()


def test_not_json_and_nan_are_400(make_client) -> None:
    client = make_client(TOKENS)
    for raw in (b"{", b'{"position": NaN}', b'{"position": Infinity}', b"[1]"):
        answer = client.post("/api/seek", headers={**OP, "content-type": "application/json"},
                             content=raw)
        assert answer.status_code == 400, (raw, answer.text)


def test_a_controller_that_does_not_answer_is_503(make_client, controller) -> None:
    client = make_client(TOKENS, hub_kwargs={"timeout_s": 0.2})
    client.get("/api/show", headers=OP)            # hello and a first status, answered
    controller.silent = True
    answer = client.post("/api/go", headers=OP)
    assert answer.status_code == 503
    assert "no answer within 0.2 s" in answer.json()["error"]


def test_a_forgotten_console_says_hello_again(make_client, controller) -> None:
    client = make_client(TOKENS)
    assert client.post("/api/pause", headers=OP).status_code == 200
    controller.core.peers._routes.clear()       # as a flood of fake peers would make it
    answer = client.post("/api/resume", headers=OP)
    assert answer.status_code == 200, answer.text


def test_restart_names_a_projector_and_publishes_its_event(make_client, controller) -> None:
    client = make_client(TOKENS)
    unknown = client.post("/api/nodes/left/restart", headers=OP)
    assert unknown.status_code == 409
    assert unknown.json()["error"] == "restart: no projector 'left' (known: none)"
    controller.node("left")
    events: list = []
    controller.listen(events.append)
    answer = client.post("/api/nodes/left/restart", headers=OP)
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["node"] == "left"
    (event,) = [e for e in events if getattr(e, "kind", None) == "restart"]
    assert event.args == {"node": "left"}
    assert event.controller_at == answer.json()["data"]["controller_at"]
    kiosk = client.post("/api/nodes/left/restart", headers=KI)
    assert kiosk.status_code == 403


def test_metrics_is_501_until_given_then_calls_the_hook(make_client) -> None:
    assert make_client(TOKENS).get("/metrics", headers=OP).status_code == 501
    seen: list[dict[str, Any]] = []

    def metrics(status: dict[str, Any], counters: dict[str, float]) -> tuple[bytes, str]:
        seen.append(dict(status))
        assert set(counters) == {"events", "state_updates", "heartbeats"}
        return b"exhibit_up 1\n", "text/plain; version=0.0.4"

    client = make_client(TOKENS, metrics=metrics)
    client.get("/api/show", headers=OP)
    answer = client.get("/metrics", headers=OP)
    assert answer.status_code == 200 and answer.text == "exhibit_up 1\n"
    assert answer.headers["content-type"].startswith("text/plain")
    assert seen and seen[-1]["session"] == "sess"


def test_the_openapi_document_lists_every_route(make_client) -> None:
    client = make_client(TOKENS)
    doc = json.loads(client.get("/openapi.json", headers=OP).text)
    assert doc["openapi"].startswith("3.")
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    for method, path in ROUTES:
        if path in ("/docs", "/openapi.json"):
            continue
        template = "/api/nodes/{node_id}/restart" if path == "/api/nodes/a/restart" else path
        assert (method, template) in documented
    assert doc["paths"]["/api/go"]["post"]["security"] == [{"HTTPBearer": []}]
    assert "409" in doc["paths"]["/api/goto"]["post"]["responses"]
    assert all("422" not in op["responses"] for ops in doc["paths"].values()
               for op in ops.values())       # a body that fails its model is 400
    goto = doc["components"]["schemas"]["Goto"]
    assert goto["additionalProperties"] is False and goto["required"] == ["cue"]
    assert client.get("/docs", headers=OP).text.count("/openapi.json") >= 1


def test_the_openapi_document_validates(make_client) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    doc = make_client(TOKENS).get("/openapi.json", headers=OP).json()
    validator.validate(doc)


def test_tokens_are_compared_by_hash_and_never_leave(make_client, caplog) -> None:
    token = "s3cret-token-value"
    config = ConsoleConfig(tokens=(ConsoleToken("x", "operator", token_sha256(token)),))
    client = make_client(config)
    with caplog.at_level("DEBUG"):
        assert client.get("/api/show", headers={"Authorization": f"Bearer {token}"}
                          ).status_code == 200
        assert client.get("/api/show", headers={"Authorization": "Bearer nope"}
                          ).status_code == 401
    assert token not in caplog.text and "nope" not in caplog.text


def test_the_wall_and_the_log_when_given(make_client) -> None:
    from exhibit_engine.config import DisplayConfig, NetworkConfig, VenueConfig, WallConfig

    client = make_client(TOKENS)
    assert client.get("/api/wall", headers=OP).status_code == 501
    assert client.get("/api/log", headers=OP).status_code == 501
    venue = VenueConfig("v", "Hall of Ice", WallConfig(4.0, 2.0, (2.0, 1.0, 3.0)),
                        (DisplayConfig("left", (800, 400), (0.0, 0.0, 2.2, 2.0)),
                         DisplayConfig("right", (800, 400), (1.8, 0.0, 2.2, 2.0))),
                        NetworkConfig())

    class Tail:
        def __init__(self) -> None:
            self.listeners: list[Any] = []

        def lines(self) -> list[dict[str, Any]]:
            return [{"level": "warning", "msg": "node left is lost"}]

        def listen(self, fn: Any) -> Any:
            self.listeners.append(fn)
            return lambda: self.listeners.remove(fn)

    tail = Tail()
    client = make_client(TOKENS, venue=venue, log=tail)
    wall = client.get("/api/wall", headers=OP).json()
    assert (wall["venue"], wall["width"], wall["height"], wall["shape"]) == (
        "Hall of Ice", 4.0, 2.0, "flat")
    # Each display in its colour of `exhibit wall check`'s picture (the second: orange).
    assert wall["displays"][1] == {"id": "right", "rect": [1.8, 0.0, 2.2, 2.0],
                                   "pixels": [800, 400], "colour": "#ff7f0e"}
    assert client.get("/api/show", headers=OP).json()["venue"] == "Hall of Ice"
    assert client.get("/api/log", headers=OP).json() == {"lines": tail.lines()}
    (listener,) = tail.listeners          # a new warning becomes a "log" event
    listener({"level": "warning", "msg": "save failed"})
    hub = client.hub  # type: ignore[attr-defined]
    client.get("/api/show", headers=OP)   # (a request: the hub's loop has run meanwhile)
    assert any(e.kind == "log" and e.data["msg"] == "save failed"
               for e in hub.log.since(hub.log.first_id) or [])


def test_public_paths_are_exact_or_prefixes(make_client) -> None:
    from fastapi.responses import PlainTextResponse

    client = make_client(TOKENS, public=("/", "/static/"))
    app = client.app
    app.get("/")(lambda: PlainTextResponse("page"))                   # type: ignore[attr-defined]
    app.get("/static/app.js")(lambda: PlainTextResponse("js"))        # type: ignore[attr-defined]
    app.get("/api/later")(lambda: PlainTextResponse("secret"))        # type: ignore[attr-defined]
    assert client.get("/").text == "page"
    assert client.get("/static/app.js").text == "js"
    assert client.get("/api/later").status_code == 401      # a route added later: guarded
    assert client.get("/api/show").status_code == 401


def test_the_status_page_loads_without_a_token_and_nothing_else_does(make_client,
                                                                     tmp_path) -> None:
    (tmp_path / "index.html").write_text("<title>console</title>", encoding="utf-8")
    (tmp_path / "app.js").write_text("// page", encoding="utf-8")
    client = make_client(TOKENS, static=tmp_path)
    page = client.get("/")
    assert page.status_code == 200 and "<title>console</title>" in page.text
    assert client.get("/static/app.js").text == "// page"
    assert client.get("/static/missing.js").status_code == 404
    for path in ("/api/show", "/api/nodes", "/api/events", "/openapi.json", "/docs",
                 "/metrics", "/static/../api/show"):
        assert client.get(path).status_code == 401, path
