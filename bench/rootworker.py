"""The project's worker.py for the scripts in bench/: there `import worker` would find bench/worker.py (a
script's own folder comes first on sys.path), so this loads the root module under its real name."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT_WORKER = Path(__file__).resolve().parent.parent / "worker.py"


def _load() -> ModuleType:
    loaded = sys.modules.get("worker")
    if loaded is not None and Path(loaded.__file__ or "") == ROOT_WORKER:
        return loaded
    spec = importlib.util.spec_from_file_location("worker", ROOT_WORKER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["worker"] = module
    spec.loader.exec_module(module)
    return module


_worker = _load()
build_worker = _worker.build_worker
worker_options = _worker.worker_options
workflow_runner = _worker.workflow_runner
