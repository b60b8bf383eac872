"""Shared pytest fixtures."""

import pytest
import torch


@pytest.fixture
def one_thread():
    """One intra-op thread: small CPU models on a busy 2-core machine run ~100x faster than
    with two, and forked children compare bit for bit with their parent.  Modules that
    want it everywhere say ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
