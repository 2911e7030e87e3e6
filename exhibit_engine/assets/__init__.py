"""Content bundles: the ``.exb`` model, its checks, and the pipeline that packs them.

The model, which projector PCs use at show time (stdlib at import; Pillow and
cryptography only when an image or a signature is checked):

- :mod:`.manifest`: ``manifest.json`` as frozen dataclasses, entry-name rules, media
  types; :mod:`.schema`: its published JSON Schema.
- :mod:`.bundle`: open and validate an archive without trusting it (names, sizes,
  ratios, hashes), then run the content checks.
- :mod:`.checks`: the content check of each file kind, on (name, bytes): glTF/GLB,
  images, JSON; the image header reader shared by packing and the scene loaders.
- :mod:`.gltf`: glTF/GLB parsing and checks run before any loader sees a byte.
- :mod:`.signing`: Ed25519 keys and ``manifest.sig``; :mod:`.library`: installed
  bundles on a node (install, rollback refusal).

Packing, which curators run (``exhibit pack``): :mod:`.pack` turns a source folder into
a bundle through the processor registered for each file; the processors are
:mod:`.mesh` (trimesh: GLB + LODs), :mod:`.image` (bounded PNG/JPEG, thumbnails, IIIF
tiles), :mod:`.font` (fontTools: label fonts subset to the bundle's texts) and
:mod:`.woodblock_pack` (a painting cut into the blocks of :mod:`.woodblock`). They share
:mod:`._processing` (``PackContext`` in, ``Output`` out) and never import :mod:`.pack`;
the model never imports packing.
"""

__all__: list[str] = []
