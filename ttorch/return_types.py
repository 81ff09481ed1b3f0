"""``ttorch.return_types``: the named tuples that ops returning several tensors give back
(``max``, ``sort``, ``topk``, ``linalg_svd``...), one class per op as in PyTorch.

Each class is a ``tuple`` with named fields (``r.values``, ``r.indices``), PyTorch's ``n_fields`` and repr
(``ttorch.return_types.max(\\nvalues=...,\\nindices=...)``), and pickles by name. It is built either from
one sequence, as PyTorch's structseq (``max((v, i))``), or from the fields themselves, as a namedtuple
(``max(v, i)``): ttorch's ops and ``fx`` use the second form. The ``*_out`` classes exist for name lookups;
ttorch's ops return the plain class with ``out=`` too (PyTorch returns ``max_out`` there).

Example::

    >>> r = ttorch.tensor([[1., 5.], [3., 2.]]).max(dim=0)
    >>> isinstance(r, ttorch.return_types.max), r.indices.tolist()
    (True, [1, 0])
"""

__all__ = ["pytree_register_structseq", "all_return_types"]


class _StructSeq(tuple):
    __slots__ = ()
    _fields = ()
    n_fields = n_sequence_fields = 0
    n_unnamed_fields = 0

    def __new__(cls, *args):
        n = len(cls._fields)
        if len(args) == 1 and n != 1 and isinstance(args[0], (tuple, list)):
            args = tuple(args[0])       # PyTorch's form: one sequence
        if len(args) != n:
            raise TypeError(f"ttorch.return_types.{cls.__name__}() takes a {n}-sequence "
                            f"({len(args)}-sequence given)")
        return tuple.__new__(cls, args)

    def __repr__(self):
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(self._fields, self))
        return f"ttorch.return_types.{type(self).__name__}(\n{body})"

    def __reduce__(self):
        return (type(self), (tuple(self),))

    def _asdict(self):
        return dict(zip(self._fields, self))


def _structseq(name, fields):
    ns = {"__slots__": (), "_fields": tuple(fields), "n_fields": len(fields), "n_sequence_fields": len(fields),
          "__module__": __name__, "__qualname__": name,
          "__doc__": f"``ttorch.return_types.{name}``: ({', '.join(fields)})."}
    for i, f in enumerate(fields):
        ns[f] = property(lambda self, i=i: self[i])
    return type(name, (_StructSeq,), ns)


_VI = ("values", "indices")
_SPECS = {
    "aminmax": ("min", "max"), "cummax": _VI, "cummin": _VI, "frexp": ("mantissa", "exponent"),
    "geqrf": ("a", "tau"), "histogram": ("hist", "bin_edges"), "histogramdd": ("hist", "bin_edges"),
    "kthvalue": _VI, "linalg_cholesky_ex": ("L", "info"), "linalg_eig": ("eigenvalues", "eigenvectors"),
    "linalg_eigh": ("eigenvalues", "eigenvectors"), "linalg_inv_ex": ("inverse", "info"),
    "linalg_ldl_factor": ("LD", "pivots"), "linalg_ldl_factor_ex": ("LD", "pivots", "info"),
    "linalg_lstsq": ("solution", "residuals", "rank", "singular_values"), "linalg_lu": ("P", "L", "U"),
    "linalg_lu_factor": ("LU", "pivots"), "linalg_lu_factor_ex": ("LU", "pivots", "info"),
    "linalg_qr": ("Q", "R"), "linalg_slogdet": ("sign", "logabsdet"), "linalg_solve_ex": ("result", "info"),
    "linalg_svd": ("U", "S", "Vh"), "lu_unpack": ("P", "L", "U"), "max": _VI, "median": _VI, "min": _VI,
    "mode": _VI, "nanmedian": _VI, "qr": ("Q", "R"), "slogdet": ("sign", "logabsdet"), "sort": _VI,
    "svd": ("U", "S", "V"), "topk": _VI, "triangular_solve": ("solution", "cloned_coefficient"),
}
_NO_OUT = {"histogramdd"}     # PyTorch has no histogramdd_out

all_return_types = []
for _name, _fields in _SPECS.items():
    for _n in (_name,) if _name in _NO_OUT else (_name, _name + "_out"):
        globals()[_n] = _cls = _structseq(_n, _fields)
        all_return_types.append(_cls)
        __all__.append(_n)


def pytree_register_structseq(cls):
    """PyTorch registers each return type with its pytree; ``ttorch.func._pytree`` already treats any tuple
    class with ``_fields`` (these, namedtuples) as a node rebuilt by ``cls(*children)``: nothing to do."""
    if not (isinstance(cls, type) and issubclass(cls, tuple) and hasattr(cls, "_fields")):
        raise TypeError(f"pytree_register_structseq: {cls!r} is not a named tuple class")
