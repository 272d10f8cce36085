"""The console's built front-end islands: which script and style files a Vite entry needs, from the build's
manifest, as the tags a page's head carries. Names carry content hashes, so a new build is never served stale."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape

BUILD = Path(__file__).resolve().parent / "static" / "build"
MANIFEST = BUILD / ".vite" / "manifest.json"
URL = "/console/static/build/"


@lru_cache(maxsize=4)
def _manifest(stamp: float) -> dict[str, Any]:
    """The manifest as of its modification time `stamp` (the cache key: a rebuild is read afresh)."""
    del stamp
    loaded: dict[str, Any] = json.loads(MANIFEST.read_text(encoding="utf-8"))
    return loaded


def files(entry: str) -> tuple[str, list[str]] | None:
    """The entry's script and every style sheet it and the chunks it imports need; None when not built."""
    try:
        manifest = _manifest(MANIFEST.stat().st_mtime)
    except FileNotFoundError:
        return None
    chunk = next((c for c in manifest.values() if c.get("isEntry") and c.get("name") == entry), None)
    if chunk is None:
        return None
    styles: list[str] = []
    seen: set[str] = set()
    pending = [chunk]
    while pending:
        current = pending.pop()
        styles.extend(css for css in current.get("css", []) if css not in styles)
        for name in current.get("imports", []):
            if name not in seen:
                seen.add(name)
                pending.append(manifest[name])
    return chunk["file"], styles


def bundle(entry: str) -> Markup:
    """The <link> and <script> tags for one entry, or nothing when the front end is not built (the page then
    shows its server-rendered fallback)."""
    found = files(entry)
    if found is None:
        return Markup("")
    script, styles = found
    tags = [Markup('<link rel="stylesheet" href="{}">').format(escape(URL + css)) for css in styles]
    tags.append(Markup('<script type="module" src="{}"></script>').format(escape(URL + script)))
    return Markup("\n").join(tags)
