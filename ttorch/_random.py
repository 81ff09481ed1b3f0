"""Random number generators: NumPy's PCG64 on cpu, counter-based Philox (``tl.rand``) on cuda.

Each device has a default generator; ``ttorch.manual_seed`` seeds them all. A cuda generator
hands each launch a (seed, offset) pair and advances the offset by the numbers it used, so
results are reproducible for a given seed and launch sequence.
"""
import numpy as np

_DEFAULT_SEED = 67280421310721


class Generator:
    """``ttorch.Generator(device='cpu')``: ``manual_seed``, ``seed``, ``initial_seed``, state."""

    def __init__(self, device="cpu"):
        from ._device import _canonical
        self.device = _canonical(device)
        self.manual_seed(_DEFAULT_SEED)

    def manual_seed(self, seed):
        seed = int(seed) & 0xFFFF_FFFF_FFFF_FFFF
        self._seed = seed
        self._np = np.random.Generator(np.random.PCG64(seed))
        self._offset = 0
        return self

    def seed(self):
        s = int(np.random.SeedSequence().entropy) & 0xFFFF_FFFF_FFFF_FFFF
        self.manual_seed(s)
        return s

    def initial_seed(self):
        return self._seed

    def get_state(self):
        from .ops.creation import tensor
        import json
        st = {"seed": self._seed, "offset": self._offset, "np": self._np.bit_generator.state}
        return tensor(list(json.dumps(st, default=int).encode()), dtype=None).to(dtype=__import__("ttorch").uint8)

    def set_state(self, state):
        import json
        st = json.loads(bytes(state.tolist()).decode())
        self._seed, self._offset = st["seed"], st["offset"]
        self._np = np.random.Generator(np.random.PCG64())
        self._np.bit_generator.state = st["np"]
        return self

    def philox(self, n):
        """(seed, offset) for a cuda launch drawing ``n`` numbers; advances the offset.

        Kernels take the seed's low 63 bits, as a positive int64, for Philox's key.
        """
        off = self._offset
        self._offset += (n + 3) // 4 * 4
        return self._seed & 0x7FFF_FFFF_FFFF_FFFF, off


default_generator = Generator("cpu")
_cuda_gens = {}


def cuda_generator(index):
    g = _cuda_gens.get(index)
    if g is None:
        from ._device import device
        g = _cuda_gens[index] = Generator.__new__(Generator)
        g.device = device("cuda", index)
        # a generator made after ``ttorch.manual_seed`` starts from that seed, as in PyTorch
        g.manual_seed(_DEFAULT_SEED if _pending_seed[0] is None else _pending_seed[0])
    return g


def generator_for(device, generator=None):
    if generator is not None:
        return generator
    return default_generator if device.type == "cpu" else cuda_generator(device.index)


def manual_seed(seed):
    """Seed every device's default generator; returns the cpu generator, as PyTorch does."""
    default_generator.manual_seed(seed)
    for g in _cuda_gens.values():
        g.manual_seed(seed)
    _pending_seed[0] = seed
    return default_generator


_pending_seed = [None]


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state):
    default_generator.set_state(state)
