"""The tests' own registered model, "tiny" (tests/test_widget*.py, the store of two clocks in
conftest.py). A module of its own, not conftest.py: with the example notebooks' conftest.py also
loaded, ``from conftest import ...`` may find the other one (see realmusic.py)."""

from __future__ import annotations

#: How the tests register their own model, "tiny" (see :func:`tiny_model`).
TINY = {"sample_rate": 22050, "segment_seconds": 1.0, "layers": {"embeddings": 4}, "version": "1"}


def tiny_model():
    """A model of the tests' own, registered as "tiny": the RMS energy of each eighth of a 1 s
    segment at 22,050 Hz through a fixed linear layer (4 dimensions). Self-contained: the browser
    tests put its source into a notebook cell."""
    import torch

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(8, 4)
            with torch.no_grad():
                self.linear.weight.copy_(torch.linspace(-1.0, 1.0, 32).reshape(4, 8))
                self.linear.bias.zero_()

        def forward(self, x):
            n = x.shape[1] // 8 * 8
            rms = x[:, :n].reshape(x.shape[0], 8, -1).pow(2).mean(-1).sqrt()
            return {"embeddings": self.linear(rms)}

    return Tiny()
