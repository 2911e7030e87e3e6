"""The one error tree of Exhibit Engine.

Every error a user can cause (a bad bundle, a wrong config, a hostile network frame)
is an :class:`ExhibitError`. The CLI turns it into exactly one readable line and a
non-zero exit; nothing else reaches a user as a traceback.

::

    ExhibitError                         base; ``str(err)`` is the one line shown to users
    ├── ConfigError (ValueError)         venue.toml / show.toml / flags: .path, .key
    ├── BundleError (ValueError)         a .exb archive or source folder: .bundle, .entry, .rule
    │   └── BundleErrors                 several problems of one source folder: .errors
    ├── AssetError (ValueError)          one asset's content (mesh, image, font): .path, .rule
    ├── SceneError (LookupError)         unknown scene id or kind, bad scene parameters: .scene
    ├── RenderError (RuntimeError)       the renderer could not open or draw
    ├── ControlError (ValueError)        a show command the show cannot carry out (no such
    │                                    cue), a bad setting or wall clock, bad saved state
    └── SyncError                        the sync layer
        ├── ProtocolError (ValueError)   a frame that breaks the wire format: .peer, .rule
        ├── CommandError (ValueError)    a command refused by role, unknown or with bad
        │                                arguments (the reply's error): .command, .refused
        └── SyncTimeout (TimeoutError)   a peer did not answer in time: .peer

Each class also subclasses the matching built-in, so callers that already catch
``ValueError`` or ``TimeoutError`` keep working.
"""

from __future__ import annotations

import re

__all__ = ["AssetError", "BundleError", "BundleErrors", "CommandError", "ConfigError", "ControlError",
           "ExhibitError", "ProtocolError", "RenderError", "SceneError", "SyncError",
           "SyncTimeout", "VersionMismatch", "plain"]


class ExhibitError(Exception):
    """Base of every error Exhibit Engine raises on bad input or a failed operation.

    Attributes:
        exit_code: the process exit status the CLI uses for this error.
    """

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(ExhibitError, ValueError):
    """A venue or show file, or a command-line setting, breaks a rule.

    Attributes:
        path: the file (or ``"<flags>"``) that holds the bad value.
        key: the dotted key of the bad value, or ``None`` for the whole file.
    """

    exit_code = 2

    def __init__(self, path: str, message: str, key: str | None = None) -> None:
        where = f"{path}: {key}" if key else f"{path}"
        super().__init__(f"{where}: {message}")
        self.path = path
        self.key = key


class BundleError(ExhibitError, ValueError):
    """A content bundle (``.exb``) or its source folder breaks a rule.

    Attributes:
        bundle: the bundle file or source folder.
        entry: the entry inside it, or ``None`` for the bundle as a whole.
        rule: the rule that was broken, in a few words.
    """

    def __init__(self, bundle: str, rule: str, entry: str | None = None) -> None:
        where = f"{bundle}: {entry}" if entry else f"{bundle}"
        super().__init__(f"{where}: {rule}")
        self.bundle = bundle
        self.entry = entry
        self.rule = rule


class BundleErrors(BundleError):
    """Several problems found in one run over a source folder (``exhibit pack``).

    Packing keeps going after a bad file, so a curator sees every problem at once.
    ``str(err)`` is still one line (the first problem and how many more); the CLI
    prints :attr:`errors`, one line each.

    Attributes:
        errors: every problem, in source order, each a :class:`BundleError`.
    """

    def __init__(self, errors: list[BundleError] | tuple[BundleError, ...]) -> None:
        first = errors[0]
        more = len(errors) - 1
        super().__init__(first.bundle, f"{first.rule} (and {more} more "
                         f"problem{'s' if more != 1 else ''})", first.entry)
        self.errors = tuple(errors)


class AssetError(ExhibitError, ValueError):
    """One asset (mesh, image, font) is unusable.

    Attributes:
        path: the asset's path (inside its bundle, or on disk).
        rule: the rule that was broken.
    """

    def __init__(self, path: str, rule: str) -> None:
        super().__init__(f"{path}: {rule}")
        self.path = path
        self.rule = rule


class SceneError(ExhibitError, LookupError):
    """A scene id or kind is unknown, or a scene's parameters are wrong.

    Attributes:
        scene: the scene id (or kind) concerned.
    """

    def __init__(self, scene: str, message: str) -> None:
        super().__init__(f"scene {scene!r}: {message}")
        self.scene = scene


class ControlError(ExhibitError, ValueError):
    """A show command the show cannot carry out (an unknown name, no such cue), a bad
    setting or wall clock, or a malformed saved state."""


class RenderError(ExhibitError, RuntimeError):
    """The renderer could not open a display or buffer, or could not draw."""


class SyncError(ExhibitError):
    """Base of the sync layer's errors."""


class ProtocolError(SyncError, ValueError):
    """A frame breaks the wire format (see ``docs/protocol.md``).

    Attributes:
        peer: who sent it, if known.
        rule: the rule that was broken.
    """

    def __init__(self, rule: str, peer: str | None = None) -> None:
        super().__init__(f"{peer}: {rule}" if peer else rule)
        self.peer = peer
        self.rule = rule


class VersionMismatch(ProtocolError):
    """A frame in another protocol version than this peer's (``docs/protocol.md`` §2).

    The controller answers it with a failed ``reply`` carrying the reason, so the peer
    learns why it is never welcomed.

    Attributes:
        version: the version the frame claims.
        req: the frame's ``req`` where it has a readable one, else 0.
    """

    def __init__(self, rule: str, peer: str | None = None, *, version: int = 0,
                 req: int = 0) -> None:
        super().__init__(rule, peer)
        self.version = version
        self.req = req


class CommandError(SyncError, ValueError):
    """The controller will not carry out a command: the sender's role may not send it, no
    such command exists, or its arguments break the rules of
    :mod:`exhibit_engine.sync.commands`.

    ``str(err)`` is the error of the reply the sender gets, e.g. ``"kiosk may not send
    'seek' (kiosk commands: ...)"`` or ``"seek: 'position' is required"``.

    Attributes:
        command: the command's name.
        refused: True when the sender's role may not send it (the controller counts those
            as refusals in ``status``).
    """

    def __init__(self, command: str, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.command = command
        self.refused = refused


class SyncTimeout(SyncError, TimeoutError):
    """A peer did not answer in time.

    Attributes:
        peer: the peer that stayed silent.
    """

    def __init__(self, peer: str, message: str) -> None:
        super().__init__(f"{peer}: {message}")
        self.peer = peer


_REPR = re.compile(r"\s*<[A-Za-z_][\w.]* object at 0x[0-9a-fA-F]+>")


def plain(exc: BaseException) -> str:
    """A library's error message fit for a user: its first line, with no Python internals.

    Object reprs are dropped (Pillow's ``cannot identify image file <_io.BytesIO object
    at 0x…>`` reads ``cannot identify image file``); an exception without a message
    gives its kind in words.
    """
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = _REPR.sub("", text).strip()
    return text or re.sub(r"(?<!^)(?=[A-Z])", " ", type(exc).__name__).lower()
