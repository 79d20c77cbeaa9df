"""Shared fixtures. Tests never touch the network: HF_HUB_OFFLINE is forced before any import."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
# torch's OpenMP workers spin while waiting; on a busy 2-core machine that makes the tracker
# tests 7-10x slower. Passive waiting must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TQDM_DISABLE", "1")

from pathlib import Path

import pytest

#: ../shared/data next to the checkout (CI sees it there too); override with SAM2MATTING_SHARED_DATA
SHARED_DATA = Path(
    os.environ.get(
        "SAM2MATTING_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"
    )
)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ../shared/data; skips the test with a reason when it is absent."""
    if not (SHARED_DATA / "README.md").is_file():
        pytest.skip(f"shared data not found at {SHARED_DATA} (set SAM2MATTING_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models gain nothing from threads, and spinning OpenMP workers on a busy 2-core machine
    made their tests ~10x slower: one torch thread for a module, restored afterwards. Use with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
