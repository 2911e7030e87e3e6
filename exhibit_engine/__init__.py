"""Exhibit Engine: an open engine for immersive digital exhibitions.

Importing the package does no work and imports neither Panda3D nor ZeroMQ; the
rendering (``exhibit_engine.runtime``, ``exhibit_engine.scenes``) and sync
(``exhibit_engine.sync``) layers load them when they are used.
"""

from .errors import ExhibitError

__all__ = ["ExhibitError", "__version__"]

__version__ = "0.1.0"
