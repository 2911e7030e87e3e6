"""The visitor's touch app: browse the show's items in a language, and steer the wall.

- :mod:`.link`: the connection to the controller (``KioskLink``), run in a thread of its
  own, which the app polls once per frame: it never blocks the render loop.

Import from the modules; this package exports nothing itself, so importing it loads
neither Panda3D nor ZeroMQ.
"""

__all__: list[str] = []
