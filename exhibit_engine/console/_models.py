"""The console API's request and response bodies (pydantic), so its OpenAPI schema is real.

Request bodies are strict: no unknown field, no string for a number, no ``1`` for
``true``, no NaN. Their bounds are the widest the controller's command table allows
(:data:`~exhibit_engine.sync.commands.COMMANDS`); the controller still checks every
command itself, since with a cue list some bounds are narrower (``delay`` 0-10 s).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..show.control import MAX_DELAY_S

__all__ = ["Blackout", "Capture", "CommandOut", "CueOut", "CueRef", "CuesOut", "Delay",
           "DisplayOut", "ErrorOut", "Goto", "Language", "LogOut", "LoginOut", "NodeOut",
           "NodesOut", "Seek", "Select", "ShowOut", "WallOut"]

_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
_SHOW_DELAY = Field(None, ge=0.0, le=MAX_DELAY_S,
                    description="Seconds from now it takes effect (omitted: 0.2 s).")
_TEXT = 128


class Delay(BaseModel):
    """An optional delay (go, next, back, pause, resume, panic)."""

    model_config = _STRICT
    delay: float | None = _SHOW_DELAY


class Goto(BaseModel):
    """Go to a cue of the main cue list: its id or its index (from 0)."""

    model_config = _STRICT
    cue: str | int = Field(description="A cue id, or an index from 0.")
    delay: float | None = _SHOW_DELAY


class Seek(BaseModel):
    """Jump to a show time, optionally changing the rate."""

    model_config = _STRICT
    # The show control's ranges (a show with a cue list, which is what a console runs):
    # the bare protocol's seek also takes negative positions and rates (exhibit ctl).
    position: float = Field(ge=0.0, le=1e9, description="Show seconds.")
    rate: float | None = Field(None, ge=0.0, le=16.0,
                               description="Show seconds per second, 0-16 (omitted: kept; "
                                           "0 holds).")
    delay: float | None = Field(None, ge=0.0, le=10.0)


class Blackout(BaseModel):
    """Fade the wall to black (``on``) or back."""

    model_config = _STRICT
    on: bool
    fade: float | None = Field(None, ge=0.0, le=600.0,
                               description="Fade seconds (omitted: the show's).")
    delay: float | None = _SHOW_DELAY


class Capture(BaseModel):
    """Every node saves the same frame under ``tag``."""

    model_config = _STRICT
    # A portable file name, stricter than the protocol's rule (any printable text without
    # '/', '\\' or a leading '.'), so that the schema says exactly what is accepted.
    tag: str = Field(min_length=1, max_length=_TEXT,
                     pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.+=@-]*$", description="A file name: letters, digits and _ . + = @ - (not "
                                 "starting with '.', '+', '=', '@' or '-').")
    delay: float | None = Field(None, ge=0.0, le=60.0)


class Select(BaseModel):
    """A kiosk selects an item of the show's bundles."""

    model_config = _STRICT
    item: str = Field(min_length=1, max_length=_TEXT)
    delay: float | None = Field(None, ge=0.0, le=60.0)


class Language(BaseModel):
    """The visitors' language (one of the show's title languages)."""

    model_config = _STRICT
    language: str = Field(min_length=1, max_length=64)


class ErrorOut(BaseModel):
    """Why a request was not carried out, in one line."""

    error: str
    note: str | None = None


class CommandOut(BaseModel):
    """A command the controller carried out, and its reply's data (docs/protocol.md §7)."""

    ok: Literal[True] = True
    command: str
    data: dict[str, Any]
    ignored: str | None = Field(None, description="Why the show changed nothing (a second "
                                                  "GO within the guard time...), as "
                                                  "data.ignored.")


class LoginOut(BaseModel):
    """Who the presented token is."""

    role: Literal["operator", "kiosk"]
    auth: Literal["none", "token"]


class ShowOut(BaseModel):
    """The show now, from the controller's status (at most ``status_age_s`` old)."""

    controller: Literal["ok", "lost"]
    status_age_s: float
    session: str
    seq: int
    show_time: float
    program: str | None = None
    cue: str | None = None
    cue_index: int | None = None
    next_cue: str | None = None
    paused: bool | None = None
    waiting: bool | None = None
    panic: int | None = None
    blackout: float | None = Field(None, description="The blackout level now, 0-1.")
    open: bool | None = None
    selected_item: str | None = Field(None, description="The item the wall was last asked "
                                      "to show (POST /api/select); null: none yet.")
    language: str | None = Field(None, description="The visitors' language the wall was "
                                 "asked to show (POST /api/language); null: none yet.")
    insecure: str = Field("", description="Why the controller is insecure (empty: it "
                                          "is not).")
    state_save: dict[str, Any] | None = None
    auth: Literal["none", "token"]
    role: Literal["operator", "kiosk"]
    languages: list[str]
    venue: str = ""


class NodeOut(BaseModel):
    """One peer of the controller, as ``status`` reports it (more fields may follow)."""

    model_config = ConfigDict(extra="allow")
    id: str
    role: str
    state: str = Field(description="joined, loading, hung or lost")
    frames: int = 0
    show_time: float = 0.0
    offset_us: float = 0.0
    rtt_us: float = 0.0
    captures: list[str] = []
    extra: dict[str, Any] = {}
    last_seen_s: float = 0.0
    render_age_s: float = 0.0


class NodesOut(BaseModel):
    """Every peer the controller knows."""

    controller: Literal["ok", "lost"]
    nodes: list[NodeOut]
    omitted: int = 0
    trimmed: bool = False


class CueOut(BaseModel):
    """One cue of the main cue list."""

    index: int
    id: str
    bundle: str
    scene: str
    duration: float
    transition: str
    wait: bool


class CueRef(BaseModel):
    """A cue of the main cue list by index and id."""

    index: int
    id: str


class CuesOut(BaseModel):
    """The main cue list, the cue playing and the one GO goes to (``None``: none, or
    another program plays)."""

    cues: list[CueOut]
    loop: bool
    program: str | None = None
    current: CueRef | None = None
    next: CueRef | None = None


class DisplayOut(BaseModel):
    """One display of the wall: its wall rectangle ``[x, y, width, height]`` (metres from
    the wall's lower-left corner) and its pixels."""

    id: str
    rect: list[float]
    pixels: list[int]
    colour: str = Field(description="its colour in `exhibit wall check`'s picture, #rrggbb")


class WallOut(BaseModel):
    """The wall as venue.toml describes it (``exhibit wall check`` draws the same)."""

    venue: str
    width: float
    height: float
    shape: str
    displays: list[DisplayOut]


class LogOut(BaseModel):
    """The last warnings the controller's process logged."""

    lines: list[dict[str, Any]]
