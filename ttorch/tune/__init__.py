"""``ttorch.tune``: kernel autotuning ahead of time, never in the middle of a training step.

A performance-critical kernel declares a ``Tunable``: its configuration space, the shape bucket
that keys a choice, a documented heuristic for buckets nobody tuned, and how to benchmark one
configuration on one problem. ``python -m ttorch.tune`` (or ``tune(name)``) times every
configuration of every bucket on the current GPU and stores the winners in the cache
(``ttorch.tune.cache``: one JSON file keyed by GPU name and Triton version). Ops then ask
``config(name, bucket)``: a dictionary lookup of the stored winner, or the heuristic. Nothing is
benchmarked at run time.

Example (a script that tunes its own kernel)::

    >>> from ttorch import tune
    >>> t = tune.Tunable("my_op", configs=lambda b: [tune.Config({"BLOCK": s}) for s in (64, 128)],
    ...                  key=lambda n: (tune.bucket(n),), heuristic=lambda b: tune.Config({"BLOCK": 64}),
    ...                  problems=lambda quick: [(1000,)], bench=lambda cfg, n: (lambda: None))
    >>> tune.register(t).config((1024,))
    Config(BLOCK=64, num_warps=4, num_stages=3)
"""
import json

from . import cache as _cache
from .timer import do_bench

__all__ = ["Config", "Tunable", "register", "registered", "config", "tune", "bucket", "load", "save", "winners",
           "clear", "do_bench", "cache_path", "lookup", "has_winners"]


class Config:
    """One point of a configuration space: the kernel's block-size constexprs and launch options."""

    __slots__ = ("kwargs", "num_warps", "num_stages")

    def __init__(self, kwargs=None, num_warps=4, num_stages=3):
        self.kwargs, self.num_warps, self.num_stages = dict(kwargs or {}), int(num_warps), int(num_stages)

    def meta(self):
        """Keyword arguments for a launch: ``launch(kernel, grid, *args, **cfg.meta(), ...)``."""
        return dict(self.kwargs, num_warps=self.num_warps, num_stages=self.num_stages)

    def to_dict(self):
        return {"kwargs": self.kwargs, "num_warps": self.num_warps, "num_stages": self.num_stages}

    @classmethod
    def from_dict(cls, d):
        return cls(d.get("kwargs"), d.get("num_warps", 4), d.get("num_stages", 3))

    def __eq__(self, other):
        return isinstance(other, Config) and self.to_dict() == other.to_dict()

    def __hash__(self):
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    def __repr__(self):
        kw = ", ".join(f"{k}={v}" for k, v in self.kwargs.items())
        return f"Config({kw}{', ' if kw else ''}num_warps={self.num_warps}, num_stages={self.num_stages})"


class Tunable:
    """A kernel's tuning declaration.

    Args:
        name: the op's name (the cache's key).
        configs: ``configs(bucket) -> [Config]``, the space valid in that bucket.
        key: ``key(*problem) -> bucket`` (a tuple of ints and strings; see ``bucket``).
        heuristic: ``heuristic(bucket) -> Config`` for buckets with no stored winner (documented per op).
        problems: ``problems(quick) -> [problem]``: representative problems, one or more per bucket.
        bench: ``bench(config, *problem) -> fn``: sets up inputs once and returns a zero-argument
            function launching the kernel with ``config``.
        specs: optional ``specs() -> [KernelSpec]``, configurations for ``python -m ttorch.ops
            --compile`` that no op lists (ops list theirs in ``Op(kernels=...)``).
    """

    def __init__(self, name, *, configs, key, heuristic, problems, bench, doc="", specs=None):
        self.name, self.configs, self.key, self.heuristic = name, configs, key, heuristic
        self.problems, self.bench, self.doc, self.specs = problems, bench, doc, specs

    def config(self, bucket_):
        return config(self.name, bucket_)


_TUNABLES = {}
_file = {}              # the cache file's sections, read at import
_winners = None         # this process's section, {op: {bucket string: Config}}, chosen on first use
_resolved = {}          # (op, bucket) -> Config: config()'s memo
GENERATION = [0]        # bumped whenever this process's winners change (tune, load, clear): a planned
                        # launch (ops/_plan.py) asks its lookups again only after a change


def bucket(n, lo=16):
    """The power of two at or above ``n`` (at least ``lo``, a power of two): the usual shape bucket.
    Ops build keys on their launch path, so this is one ``bit_length``, not a loop."""
    return lo if n <= lo else 1 << (n - 1).bit_length()


def _key(bucket_):
    return json.dumps(list(bucket_))


def register(tunable):
    """Declare a ``Tunable``; returns it."""
    _TUNABLES[tunable.name] = tunable
    return tunable


def registered():
    """``{name: Tunable}`` of every declared kernel (ops register theirs when ``ttorch`` is imported)."""
    return dict(_TUNABLES)


def _section():
    global _winners
    if _winners is None:
        raw = _file.get(_cache.section_name(), {})
        _winners = {}
        for op, per in raw.items():
            try:        # buckets are JSON lists in the file, tuples in memory
                won = {tuple(json.loads(b)): Config.from_dict(c) for b, c in per.items()}
            except (ValueError, TypeError, AttributeError):
                continue                    # a malformed entry costs its op the tuning, nothing more
            t = _TUNABLES.get(op)
            _winners[op] = {b: c for b, c in won.items() if t is None or _in_space(t, b, c)}
    return _winners


def _in_space(t, bucket_, cfg):
    """Whether ``cfg`` is still among ``t``'s configurations for ``bucket_``. A winner a later release
    took out of the space (it spilled registers, or a tile went away) is dropped, and its bucket
    falls back to the heuristic until tuned again; a space that can't be listed here keeps it."""
    try:
        return cfg in t.configs(bucket_)
    except Exception:
        return True


def config(name, bucket_):
    """The configuration to launch ``name`` with in ``bucket_``: the stored winner, else the heuristic."""
    k = (name, bucket_)
    c = _resolved.get(k)
    if c is None:
        c = lookup(name, bucket_) or _TUNABLES[name].heuristic(bucket_)
        _resolved[k] = c
    if _RECORDING[0] is not None:
        _RECORDING[0].append((config, (name, bucket_), c))
    return c


def lookup(name, bucket_):
    """The stored winner of ``name`` in ``bucket_``, or None (for ops whose fallback needs the exact
    shape rather than its bucket). On every launch path: kept to two dictionary lookups."""
    w = (_winners if _winners is not None else _section()).get(name)
    won = w.get(bucket_) if w else None
    if _RECORDING[0] is not None:       # a call recorded for a plan: replaying it asks again
        _RECORDING[0].append((lookup, (name, bucket_), won))
    return won


# While an op's call is recorded for a plan (ops/_plan.py): each lookup and has_winners it made, as
# (function, arguments, answer).
_RECORDING = [None]


def has_winners(name):
    """Whether any bucket of ``name`` has a stored winner (lets a hot path skip building its key)."""
    won = bool((_winners if _winners is not None else _section()).get(name))
    if _RECORDING[0] is not None:
        _RECORDING[0].append((has_winners, (name,), won))
    return won


def winners(name=None):
    """Stored winners of this GPU and Triton version: ``{op: {bucket tuple: Config}}`` (or one op's)."""
    w = _section()
    return dict(w.get(name, {})) if name else {op: dict(v) for op, v in w.items()}


def tune(name, quick=False, problems=None, timer=None, save=True, log=None):
    """Benchmark every configuration of ``name`` on each problem and keep the fastest per bucket.

    Configurations that fail to compile or launch (too much shared memory, for one) are skipped.
    Returns ``{bucket: (Config, ms)}``; ``save`` writes the winners to the cache file."""
    t = _TUNABLES[name]
    timer = timer or do_bench
    best = {}
    for problem in (t.problems(quick) if problems is None else problems):
        b = tuple(t.key(*problem))
        for cfg in t.configs(b):
            try:
                fn = t.bench(cfg, *problem)
                ms = timer(fn)
            except Exception as e:         # out of resources, an invalid combination: not a candidate
                if log:
                    log(f"  {name} {b} {cfg}: skipped ({type(e).__name__}: {str(e)[:80]})")
                continue
            if log:
                log(f"  {name} {b} {cfg}: {ms:.4f} ms")
            if b not in best or ms < best[b][1]:
                best[b] = (cfg, ms)
    sect = _section().setdefault(name, {})
    for b, (cfg, _) in best.items():
        sect[b] = cfg
        _resolved.pop((name, b), None)
    GENERATION[0] += 1
    if save and best:
        _write_winners()
    return best


def _write_winners(path=None):
    """Merge this process's winners into the cache file (other GPUs' sections are kept)."""
    p = path or _cache.path()
    sections = _cache.read(p)
    sections[_cache.section_name()] = {op: {_key(b): c.to_dict() for b, c in per.items()}
                                       for op, per in _section().items()}
    _file.clear()
    _file.update(sections)
    return _cache.write(sections, p)


save = _write_winners


def load(path=None):
    """(Re)read the cache file: ``TTORCH_TUNE_CACHE`` or the default path, or ``path``."""
    global _winners
    _file.clear()
    _file.update(_cache.read(path))
    _winners = None
    _resolved.clear()
    GENERATION[0] += 1


def clear():
    """Forget this process's winners (the file is untouched): every op falls back to its heuristic."""
    global _winners
    _winners = {}
    _resolved.clear()
    GENERATION[0] += 1


def cache_path():
    return _cache.path()


load()
