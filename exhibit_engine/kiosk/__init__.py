"""The visitor's touch app: browse the show's items in a language, and steer the wall.

- :mod:`.app`: ``exhibit kiosk app``, the Panda3D app (``KioskApp``) and its frame loop;
- :mod:`.catalogue`: the show's items by bundle, and how each is seen;
- :mod:`.session`: the pure rules: pages, one request per tap, idleness, the wall, staff;
- :mod:`.pages`: the attract page, carousel, item page, PIN pad, staff page, overlays;
- :mod:`.ui`: the pixel canvases and touch targets; :mod:`.media`: textures, rendered
  thumbnails and live 3-D views; :mod:`.iiif`: the level-0 tile client;
- :mod:`.script`: ``--script`` files and their player; :mod:`.strings`: the kiosk's own
  words in zh/en/ru and its font;
- :mod:`.link`: the connection to the controller (``KioskLink``), run in a thread of its
  own, which the app polls once per frame: it never blocks the render loop.

Import from the modules; this package exports nothing itself, so importing it loads
neither Panda3D nor ZeroMQ.
"""

__all__: list[str] = []
