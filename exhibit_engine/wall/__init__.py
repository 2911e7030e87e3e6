"""The wall: how the displays of a venue tile it, blend into one picture and are warped.

Pure numpy, from the venue alone: everything here is testable without a GPU, and the
runtime only turns these numbers into a Panda3D lens and a final-pass shader.
Submodules (import the one that owns the name you need; importing this package loads
nothing):

- :mod:`~exhibit_engine.wall.frustum`: ``Frustum``, each display's off-axis slice of
  the wall seen from the eye (flat walls and a cylinder's chords), ``wall_point`` and
  ``pixel_rect`` (where a slice lands in a full-wall image).
- :mod:`~exhibit_engine.wall.blend`: blend widths and linear-light weights that sum to
  one over every overlap, their gamma encoding and the black-level uplift.
- :mod:`~exhibit_engine.wall.warp`: corner pins (a DLT homography) and mesh warps,
  inverted into a map from output pixels to image points.
- :mod:`~exhibit_engine.wall.output`: ``output_maps``, warp, blend and black level of a
  display resolved per output pixel (what a node's final pass draws).
- :mod:`~exhibit_engine.wall.check`: ``check_venue``, everything about a venue's wall
  that will look wrong, as ``Problem`` sentences naming the displays.
- :mod:`~exhibit_engine.wall.composite`: blended slices put back together in linear
  light (``exhibit demo``, ``exhibit bench wall``).
- :mod:`~exhibit_engine.wall.diagram`: a PNG of the wall's layout and problems; the
  only submodule that imports Pillow.

The wall imports only :mod:`exhibit_engine.config` and numpy (``diagram`` also Pillow);
never panda3d, direct or zmq.
"""

__all__: list[str] = []
