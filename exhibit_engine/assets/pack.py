"""Packing: a curator's source folder -> one ``.exb`` bundle.

The pipeline::

    bundle.toml + source files
        -> each file goes through the processor registered for its extension
           (meshes -> GLB + LODs, images -> bounded PNG/JPEG + thumbnail + tiles,
           fonts -> subset to the bundle's texts; a layered print's *blocks.json ->
           itself + its finished picture, thumbnail and tiles; COLLADA, 3MF, FBX...
           refused; anything else is copied); sources that read sibling files (CONSUMERS:
           a .gltf's .bin and textures, an OBJ's .mtl and textures) run first and
           claim them, and a claimed file is not packed on its own
        -> a bad file does not stop the run: every problem is collected, and pack
           fails with all of them (BundleErrors) before anything is written
        -> scene asset references, and any string of a scene's params that names
           a renamed source (params.artifacts[].model = "meshes/fuze.obj"), are
           rewritten to the processed names
        -> manifest.json (sizes, media types, SHA-256) + the files, in a ZIP
        -> optional manifest.sig
        -> written to a temporary file and renamed into place

Processors are plain functions registered by extension in :data:`PROCESSORS`, or by
name in :data:`NAMED_PROCESSORS` (mappings, like trimesh's loaders). A processor gets
the :class:`~._processing.PackContext`, the source path relative to the folder and its
bytes, and returns its :class:`~._processing.Output` files, the primary output first.
It reports bad input by raising ``ctx.fail(rel, rule)``.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tomllib
import zipfile
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ..config.paths import write_atomic
from ..errors import AssetError, BundleError, BundleErrors
from . import font, image, mesh, woodblock_pack
from ._processing import SOURCE_FILE, Output, PackContext, Processor
from .manifest import FORMAT, Manifest, ManifestError, check_entry_name, media_type_for, \
    parse_manifest

if TYPE_CHECKING:
    from ..config import ShowConfig

__all__ = ["CONSUMERS", "NAMED_PROCESSORS", "PROCESSORS", "collect_texts", "ensure_bundles",
           "pack"]

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_MAX_SOURCE_BYTES = 2 << 30

#: Processors by lower-case file extension; files with no entry are copied as they are.
#: Every value is the processor function itself. The processor modules import Pillow,
#: trimesh and fontTools only inside their functions, so importing this module still
#: loads none of them.
PROCESSORS: dict[str, Processor] = {
    ".otf": font.process,
    ".ttf": font.process,
    ".glb": mesh.process,
    ".gltf": mesh.process,
    ".obj": mesh.process,
    ".stl": mesh.process,
    ".ply": mesh.process,
    ".png": image.process,
    ".jpg": image.process,
    ".jpeg": image.process,
    ".tif": image.process,
    ".tiff": image.process,
    ".webp": image.process,
    ".bmp": image.process,
    ".json": woodblock_pack.process_layered,
    **dict.fromkeys(mesh.UNSUPPORTED, mesh.refuse),
}

#: Extensions whose processors read sibling files into their own output (a .gltf's
#: buffers and images, an OBJ's material and textures, a PLY's texture) and claim them with
#: ``ctx.consume``: they run first, and a claimed file is not packed on its own.
CONSUMERS = frozenset({".gltf", ".obj", ".ply"})


#: Processors a source file may ask for by name (``processor = "woodblock"`` in its
#: ``[assets."<file>"]`` table), whatever its extension; registered the same way.
NAMED_PROCESSORS: dict[str, Processor] = {
    "woodblock": woodblock_pack.process,
}


def _copy(ctx: PackContext, rel: str, data: bytes) -> list[Output]:
    return [Output(rel, data)]


def collect_texts(doc: Mapping[str, Any]) -> tuple[str, ...]:
    """Every string in bundle.toml that a visitor may read, deduplicated, in order."""
    seen: dict[str, None] = {}

    def walk(value: Any) -> None:
        if isinstance(value, str):
            seen.setdefault(value, None)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    bundle = doc.get("bundle", {})
    if isinstance(bundle, dict):  # credits are shown on the wall where items ask for them
        for field_name in ("title", "rights"):
            walk(bundle.get(field_name, {}))
    for key in ("items", "scenes"):
        for entry in doc.get(key, []) if isinstance(doc.get(key), list) else []:
            if isinstance(entry, dict):
                for field_name in ("title", "description", "labels", "captions", "creator",
                                   "date", "rights"):
                    walk(entry.get(field_name, {}))
    walk(doc.get("labels", {}))
    return tuple(seen)


def _source_doc(src: Path) -> dict[str, Any]:
    toml_path = src / SOURCE_FILE
    try:
        doc = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(str(src), f"no {SOURCE_FILE} in the source folder") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BundleError(str(src), f"not valid TOML ({exc})", SOURCE_FILE) from None
    if not isinstance(doc.get("bundle"), dict):
        raise BundleError(str(src), "needs a [bundle] table", SOURCE_FILE)
    return doc


def _source_files(src: Path, problems: list[BundleError]) -> list[str]:
    """Every file to pack, sorted; bad names and links go to ``problems``."""
    names = []
    for root, dirs, files in os.walk(src, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            p = Path(root, name)
            rel = p.relative_to(src).as_posix()
            if name.startswith(".") or rel == SOURCE_FILE:
                continue
            if p.is_symlink() or not p.is_file():
                problems.append(BundleError(str(src), "links and special files cannot be "
                                            "packed", rel))
                continue
            why = check_entry_name(rel)
            if why:
                problems.append(BundleError(str(src), why, rel))
                continue
            names.append(rel)
    return sorted(names)


def _process_one(ctx: PackContext, rel: str) -> list[Output]:
    """One source through its processor, with the checks every output must pass."""
    path = ctx.src / rel
    if path.stat().st_size > _MAX_SOURCE_BYTES:
        raise ctx.fail(rel, f"source file larger than {_MAX_SOURCE_BYTES} bytes")
    data = path.read_bytes()
    named = ctx.options(rel).get("processor")
    if named is not None and named not in NAMED_PROCESSORS:
        raise ctx.fail(rel, f"unknown processor {named!r} (known: "
                            f"{', '.join(sorted(NAMED_PROCESSORS))})")
    made = (NAMED_PROCESSORS[named] if named else PROCESSORS.get(path.suffix.lower(), _copy))(
        ctx, rel, data)
    if not made:
        raise ctx.fail(rel, "processing produced nothing")
    seen: set[str] = set()
    for out in made:
        why = check_entry_name(out.path)
        if why:
            raise ctx.fail(rel, f"processor output {out.path!r}: {why}")
        if out.path in seen:
            raise ctx.fail(rel, f"two outputs named {out.path!r}")
        seen.add(out.path)
    return made


def _renamed_params(value: Any, moved: Mapping[str, str]) -> Any:
    """Scene parameters with every string that names a renamed source replaced."""
    if isinstance(value, str):
        return moved.get(value, value)
    if isinstance(value, dict):
        return {k: _renamed_params(v, moved) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed_params(v, moved) for v in value]
    return value


def _compressible(data: bytes) -> bool:
    """Whether deflate is worth it: already-compressed media and noise are stored."""
    if len(data) < 256:
        return True
    sample = data[: 1 << 16]
    return len(zlib.compress(sample, 1)) < 0.9 * len(sample)


def pack(src_dir: str | os.PathLike[str], out_path: str | os.PathLike[str], *,
         progress: Callable[[str, int], None] | None = None,
         sign: Callable[[bytes], bytes] | None = None,
         notes: dict[str, list[str]] | None = None,
         check: Callable[[Manifest, Callable[[str], bytes]], Mapping[str, list[str]]]
         | None = None) -> Manifest:
    """Pack a source folder into a ``.exb`` bundle, atomically and reproducibly.

    Every source file goes through the processor for its extension; the archive is
    written to a temporary file beside ``out_path`` and renamed into place only when
    complete, so a failed pack leaves no partial output. The same source always gives
    the same bytes (sorted entries, fixed timestamps). Every file is processed even
    after one fails, so that all the problems of a folder come out of one run.

    Args:
        src_dir: folder holding ``bundle.toml`` and the source files.
        out_path: the ``.exb`` file to write.
        progress: called with (source file name, its size) as each file is done.
        sign: given the manifest bytes, returns a signature stored as ``manifest.sig``.
        notes: if given, filled with the processors' remarks per source file (for the
            curator's summary table).
        check: called with the finished manifest and a reader of the packed files before
            anything is written (the CLI passes the scene kinds' parameter checks, which
            live above this layer); it raises BundleError to stop the pack, and returns
            remarks that join ``notes``.

    Returns:
        The manifest written into the bundle.

    Raises:
        BundleError: the source folder, or one of its files, breaks a rule.
        BundleErrors: several files do (``.errors`` holds one BundleError each).
    """
    src = Path(src_dir)
    if not src.is_dir():
        raise BundleError(str(src), "source folder not found")
    doc = _source_doc(src)
    problems: list[BundleError] = []
    sources = _source_files(src, problems)
    ctx = PackContext(src=src, doc=doc,
                      texts=collect_texts(doc) + woodblock_pack.layered_texts(src, sources),
                      notes=notes if notes is not None else {})
    made_by: dict[str, list[Output]] = {}
    failed: dict[str, BundleError] = {}
    # Sources that may read sibling files (ctx.consume) go first, so a consumed
    # texture is never processed on its own.
    names = sorted(sources, key=lambda r: (Path(r).suffix.lower() not in CONSUMERS, r))
    for rel in names:
        if rel in ctx.consumed:
            if progress:
                progress(rel, (src / rel).stat().st_size)
            continue
        try:
            made_by[rel] = _process_one(ctx, rel)
        except BundleError as exc:
            failed[rel] = exc
        except AssetError as exc:
            failed[rel] = ctx.fail(rel, exc.rule)
        if progress:
            progress(rel, (src / rel).stat().st_size)
    outputs: dict[str, bytes] = {}
    renamed: dict[str, str] = {}
    for rel in sorted(names):
        if rel in ctx.consumed:  # read into another source's output (even if it came first)
            continue
        if rel in failed:
            problems.append(failed[rel])
            continue
        for out in made_by.get(rel, []):
            if out.path in outputs:
                problems.append(ctx.fail(rel, f"two sources produce {out.path!r}"))
                break
            outputs[out.path] = out.data
        else:
            renamed[rel] = made_by[rel][0].path
    if problems:  # bundle.toml's scenes and items are checked once every file is fine
        problems.sort(key=lambda e: e.entry or "")
        raise problems[0] if len(problems) == 1 else BundleErrors(problems)

    entries = [{"path": name, "size": len(data), "media_type": media_type_for(name),
                "sha256": hashlib.sha256(data).hexdigest()}
               for name, data in sorted(outputs.items())]
    moved = {a: b for a, b in renamed.items() if a != b}
    scenes = []
    for scene in doc.get("scenes", []) if isinstance(doc.get("scenes"), list) else []:
        if isinstance(scene, dict):
            scene = dict(scene)
            if isinstance(scene.get("assets"), list):
                scene["assets"] = [renamed.get(a, a) if isinstance(a, str) else a
                                   for a in scene["assets"]]
            if "params" in scene:
                scene["params"] = _renamed_params(scene["params"], moved)
        scenes.append(scene)
    b = doc["bundle"]
    raw = {
        "format": FORMAT,
        "id": b.get("id"),
        "version": b.get("version"),
        "title": b.get("title"),
        "rights": b.get("rights", ""),
        "license": b.get("license", ""),
        "items": doc.get("items", []),
        "scenes": scenes,
        "files": entries,
    }
    try:
        manifest = parse_manifest(raw)
    except ManifestError as exc:
        raise BundleError(str(src), exc.rule, f"{SOURCE_FILE}: {exc.entry}" if exc.entry
                          else SOURCE_FILE) from None
    if check is not None:
        for where, remarks in check(manifest, outputs.__getitem__).items():
            ctx.notes.setdefault(where, []).extend(remarks)
    manifest_bytes = manifest.to_json_bytes()
    signature = sign(manifest_bytes) if sign else None

    def write(raw_file: BinaryIO) -> None:
        with zipfile.ZipFile(raw_file, "w") as zf:
            _write_entry(zf, "manifest.json", manifest_bytes)
            if signature is not None:
                _write_entry(zf, "manifest.sig", signature)
            for entry in manifest.files:
                _write_entry(zf, entry.path, outputs[entry.path])

    # the bundle's mode follows the umask (0o666 less it), never mkstemp's 0600
    write_atomic(out_path, write, parents=True)
    return manifest


def _write_entry(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED if _compressible(data) else zipfile.ZIP_STORED
    info.external_attr = (stat.S_IFREG | 0o644) << 16
    info.create_system = 3
    zf.writestr(info, data, compresslevel=6)


def ensure_bundles(show: ShowConfig, content_dir: Path, bundle_dir: Path,
                   say: Callable[[str], None]) -> None:
    """Pack each of the show's bundles from ``content_dir/<id>`` unless a valid one exists."""
    from .bundle import Bundle

    for ref in show.bundles:
        out = bundle_dir / ref.file
        src = content_dir / ref.id
        if out.exists():
            try:
                with Bundle.open(out) as b:
                    b.verify()
                continue
            except BundleError as exc:
                say(f"rebuilding {out.name}: {exc.rule}")
        m = pack(src, out)
        say(f"packed {m.id} {m.version} ({len(m.files)} files) -> {out}")
