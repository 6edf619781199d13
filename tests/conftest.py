import pytest
import torch

# Random tiny models produce denormal floats, which make CPU convolutions 10-100x slower; the
# library flushes them in generate() and the trainers, and the tests call models directly.
torch.set_flush_denormal(True)


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models run fastest on one thread, and do not stall when other processes share the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
