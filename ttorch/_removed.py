"""The ``torch`` functions PyTorch removed in 1.9 (``eig``, ``lstsq``, ``matrix_rank``, ``solve``, ``symeig``):
ported code that still calls them gets PyTorch's RuntimeError, which names the ``torch.linalg`` replacement."""

_HEAD = "This function was deprecated since version 1.9 and is now removed. "
_HINT = {
    "eig": "`torch.linalg.eig` returns complex tensors of dtype `cfloat` or `cdouble` rather than real tensors "
           "mimicking complex tensors.\n\nL, _ = torch.eig(A) should be replaced with:\nL_complex = "
           "torch.linalg.eigvals(A)\n\nand\n\nL, V = torch.eig(A, eigenvectors=True) should be replaced with:\n"
           "L_complex, V_complex = torch.linalg.eig(A)",
    "lstsq": "`torch.lstsq` is deprecated in favor of `torch.linalg.lstsq`.\n`torch.linalg.lstsq` has reversed "
             "arguments and does not return the QR decomposition in the returned tuple (although it returns other "
             "information about the problem).\n\nTo get the QR decomposition consider using `torch.linalg.qr`.\n\n"
             "X, _ = torch.lstsq(B, A).solution[:A.size(1)]\nshould be replaced with:\nX = "
             "torch.linalg.lstsq(A, B).solution",
    "matrix_rank": "\nPlease use the `torch.linalg.matrix_rank` function instead. The parameter 'symmetric' was "
                   "renamed in `torch.linalg.matrix_rank()` to 'hermitian'.",
    "solve": "`torch.solve` is deprecated in favor of `torch.linalg.solve`. `torch.linalg.solve` has its arguments "
             "reversed and does not return the LU factorization.\n\nTo get the LU factorization see `torch.lu`, "
             "which can be used with `torch.lu_solve` or `torch.lu_unpack`.\nX = torch.solve(B, A).solution "
             "should be replaced with:\nX = torch.linalg.solve(A, B)",
    "symeig": "The default behavior has changed from using the upper triangular portion of the matrix by default "
              "to using the lower triangular portion.\n\nL, _ = torch.symeig(A, upper=upper) should be replaced "
              "with:\nL = torch.linalg.eigvalsh(A, UPLO='U' if upper else 'L')\n\nand\n\nL, V = torch.symeig(A, "
              "eigenvectors=True) should be replaced with:\nL, V = torch.linalg.eigh(A, UPLO='U' if upper else 'L')",
}


def _removed(name):
    def fn(*args, **kwargs):
        raise RuntimeError(_HEAD + _HINT[name] if name != "matrix_rank" else _HEAD.rstrip() + _HINT[name])
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = "Removed in PyTorch 1.9: raises PyTorch's RuntimeError naming the replacement."
    return fn


FUNCTIONS = {n: _removed(n) for n in _HINT}
METHODS = {n: FUNCTIONS[n] for n in ("eig", "lstsq", "solve", "symeig")}
