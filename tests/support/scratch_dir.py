"""Folders for servers that run as another user (embedded PostgreSQL runs as `postgres` when tests run as root).

Not under pytest's tmp_path: pytest keeps /tmp/pytest-of-<user> at mode 0700 and resets it to 0700 whenever
another pytest session starts. The server, which was let through by widening that folder's mode, then loses
access to its own data mid-run ("could not open file .../global/pg_control: Permission denied"), so a run
failed whenever another worktree's run began beside it. A folder straight under the system temp folder is ours
alone, and nothing resets it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def server_dir(prefix: str) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix=f"memberflow-{prefix}-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)
