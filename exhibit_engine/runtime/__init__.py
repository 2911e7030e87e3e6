"""The Panda3D runtime: everything that draws, on a projector node or offscreen.

The only layer besides :mod:`exhibit_engine.scenes` that imports Panda3D. It turns the
pure layers' answers (show state, wall frusta and blend maps, bundle contents) into
frames; submodules, imported where they are needed (importing this package loads
nothing):

- :mod:`.render`: :class:`~.render.Renderer`, one output (offscreen buffer or window)
  drawing the show at show time t, with the off-axis lens of its wall slice;
  ``render_to_png`` for ``exhibit render``.
- :mod:`.transitions`: cut, crossfade (render-to-texture) and fade through black.
- :mod:`.output`: the final pass of a projector (transition mix, warp, blend, black
  level, blackout).
- :mod:`.playback`: what a node's picture owes to the replicated session state.
- :mod:`.cache`: the content-addressed BAM model cache, checked before every load.
- :mod:`.preview`: contact sheets for ``exhibit preview``.
- :mod:`.node_app`: ``exhibit node``, a projector following the controller.
- :mod:`._gl`: private Panda3D plumbing (PRC settings, outputs, shader checks).
"""

__all__: list[str] = []
