"""errors.plain: library messages shown to users carry no Python internals."""

from __future__ import annotations

import io

import pytest

from exhibit_engine.assets.checks import image_header
from exhibit_engine.errors import AssetError, plain


def test_object_reprs_are_dropped():
    exc = OSError(f"cannot identify image file {io.BytesIO()!r}")
    assert "0x" in str(exc)
    assert plain(exc) == "cannot identify image file"


def test_first_line_only_and_a_kind_for_an_empty_message():
    assert plain(ValueError("bad\nTraceback (most recent call last)")) == "bad"
    assert plain(KeyError()) == "key error"


def test_an_unreadable_image_is_named_without_internals():
    with pytest.raises(AssetError) as err:
        image_header(b"not an image at all", "prints/x.png")
    assert "0x" not in str(err.value) and "object at" not in str(err.value)
    assert str(err.value).startswith("prints/x.png: not a readable image")
