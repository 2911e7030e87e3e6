"""The child processes of ``exhibit bench scan``, so that each step's peak memory is its own.

``python -m exhibit_engine.bench._scan_proc pack SRC OUT`` packs the source folder as
``exhibit pack`` does; ``... baseline PLY OUTDIR T1 T2`` loads the PLY with trimesh,
simplifies the full mesh to T1 and to T2 triangles with trimesh's quadric decimation
(fast-simplification) and exports the three meshes as GLB files into OUTDIR;
``... frames BUNDLE W H N CACHE`` renders the bundle's heritage scene offscreen (levels
chosen, full forced, coarsest forced: N frames each, see :func:`_frames`). Each
prints one JSON object: ``seconds`` (the step, imports excluded), ``peak_bytes`` (this
process's peak resident memory: VmHWM, which starts at exec, unlike ``ru_maxrss`` that
Linux carries over from the forked parent; ``ru_maxrss`` where there is no /proc) and
what it made.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path


def _pack(src: str, out: str) -> dict[str, object]:
    from ..assets.pack import pack
    from ..scenes.registry import check_bundle_params

    def check(manifest, read):  # type: ignore[no-untyped-def]  # as `exhibit pack` does
        return check_bundle_params(src, manifest.scenes, read)

    notes: dict[str, list[str]] = {}
    t0 = time.perf_counter()
    pack(src, out, notes=notes, check=check)
    seconds = time.perf_counter() - t0
    lods = [int(n) for text in notes.get("meshes/scan.ply", [])
            if (m := re.match(r"\d+ LODs: ([\d, ]+) tris", text))
            for n in m.group(1).split(", ")]
    return {"seconds": seconds, "lods": lods, "notes": notes}


def _baseline(ply: str, outdir: str, targets: list[int]) -> dict[str, object]:
    import trimesh

    folder = Path(outdir)
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with open(ply, "rb") as f:      # from a file object: the texture is not read
        mesh = trimesh.load(f, file_type="ply", force="mesh")
    meshes = [mesh] + [mesh.simplify_quadric_decimation(face_count=t) for t in targets]
    for i, m in enumerate(meshes):
        (folder / f"m{i}.glb").write_bytes(m.export(file_type="glb"))
    return {"seconds": time.perf_counter() - t0,
            "triangles": [int(len(m.faces)) for m in meshes]}


def _frames(bundle_path: str, width: int, height: int, frames: int, cache: str
            ) -> dict[str, object]:
    """The heritage scene's frame at the tour's start (the camera at wall distance), with
    levels chosen as a node chooses them, with the full model forced and with the
    coarsest level forced: the median of ``frames`` frames each, after two."""
    import statistics

    from ..assets.bundle import Bundle
    from ..runtime.cache import ModelCache
    from ..runtime.render import Renderer
    from ..wall.frustum import LodView

    out: dict[str, object] = {}
    with Bundle.open(bundle_path) as bundle:
        for mode, view in (("lod", None), ("full", LodView(0.0)), ("lowest", LodView(1e-9))):
            with Renderer((width, height), cache=ModelCache(cache)) as renderer:
                if view is not None:
                    renderer.set_lod(view)
                t0 = time.perf_counter()
                renderer.load(bundle, "gallery")
                load_s = time.perf_counter() - t0
                times = []
                for k in range(frames + 2):
                    t0 = time.perf_counter()
                    renderer.render(0.0)
                    times.append((time.perf_counter() - t0) * 1e3)
                scene = renderer.current_scene
                shown = scene.level_shown("vase", 0.0) if hasattr(scene, "level_shown") else None
                out[mode] = {"frame_ms": statistics.median(times[2:]), "load_s": load_s,
                             "level": shown[1] if shown else 0}
    return out


def _peak_bytes() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def main(argv: list[str]) -> int:
    if argv[:1] == ["pack"] and len(argv) == 3:
        result = _pack(argv[1], argv[2])
    elif argv[:1] == ["frames"] and len(argv) == 6:
        result = _frames(argv[1], int(argv[2]), int(argv[3]), int(argv[4]), argv[5])
    elif argv[:1] == ["baseline"] and len(argv) >= 4:
        result = _baseline(argv[1], argv[2], [int(t) for t in argv[3:]])
    else:
        print("usage: python -m exhibit_engine.bench._scan_proc pack SRC OUT | "
              "baseline PLY OUTDIR T...", file=sys.stderr)
        return 2
    result["peak_bytes"] = _peak_bytes()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
