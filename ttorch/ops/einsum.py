"""``einsum``: a sum of products over labelled dims, reduced to diagonals, sums, permutes,
reshapes and ``matmul`` (one GEMM per contracted pair of operands).
"""
from .._tensor import Tensor, _numel
from ._op import Op
from .matmul import matmul, _FLOATS
from .samples import Sample, rng


def _letter(i):
    if not 0 <= i < 52:
        raise ValueError(f"einsum(): subscript in subscript list is not within the valid range [0, 52), got {i}")
    return chr(ord("A") + i) if i < 26 else chr(ord("a") + i - 26)


def _sublist_equation(args):
    """``einsum(op0, [0, 1], op1, [1, 2], [0, 2])``: the sublist format as an equation string."""
    def term(sub):
        return "".join("..." if s is Ellipsis else _letter(s) for s in sub)
    ops, terms = list(args[0::2]), [term(s) for s in args[1::2]]
    if len(args) % 2:   # an odd count ends with the output sublist
        return ",".join(terms) + "->" + term(ops[-1]), ops[:-1]
    return ",".join(terms), ops


def _parse_term(term, ndim, i, ell):
    """Labels of one operand: ord() of each letter, and -r..-1 for its r ellipsis dims (right-aligned)."""
    labels, pos, seen_ell = [], 0, False
    while pos < len(term):
        ch = term[pos]
        if ch == ".":
            if seen_ell:
                raise RuntimeError(f"einsum(): found '.' for operand {i} for which an ellipsis was already found")
            if term[pos:pos + 3] != "...":
                raise RuntimeError(f"einsum(): found '.' for operand {i} that is not part of any ellipsis")
            seen_ell, pos = True, pos + 3
            labels.append(None)
            continue
        if not ch.isascii() or not ch.isalpha():
            raise RuntimeError(f"einsum(): invalid subscript given at index {pos} in the equation string, subscripts "
                               "must be in [a-zA-Z]")
        labels.append(ord(ch))
        pos += 1
    n = len(labels) - seen_ell
    if ell is None:          # the output: "..." stands for every broadcast ellipsis dim
        return labels
    if seen_ell:
        if n > ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({n}) is more than the number of "
                               f"dimensions ({ndim}) for operand {i}")
        j = labels.index(None)
        r = ndim - n
        ell[0] = max(ell[0], r)
        labels[j:j + 1] = list(range(-r, 0))
    elif n != ndim:
        raise RuntimeError(f"einsum(): the number of subscripts in the equation ({n}) does not match the number of "
                           f"dimensions ({ndim}) for operand {i} and no ellipsis was given")
    return labels


def _einsum_impl(*operands, equation):
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) > len(operands):
        raise RuntimeError("einsum(): fewer operands were provided than were specified in the equation")
    if len(terms) < len(operands):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    ell = [0]
    labels = [_parse_term(tm, t.ndim, i, ell) for i, (tm, t) in enumerate(zip(terms, operands))]
    counts = {}
    for ls in labels:
        for lab in ls:
            counts[lab] = counts.get(lab, 0) + 1
    if arrow:
        out = []
        for lab in _parse_term(rhs, 0, -1, None):
            if lab is None:
                out.extend(range(-ell[0], 0))
                continue
            if lab not in counts:
                raise RuntimeError(f"einsum(): output subscript {chr(lab)} does not appear in the equation for any "
                                   "input operand")
            if lab in out:
                raise RuntimeError(f"einsum(): output subscript {chr(lab)} appears more than once in the output")
            out.append(lab)
    else:   # implicit output: the ellipsis dims, then the letters seen once, in alphabetical order
        out = list(range(-ell[0], 0)) + sorted(lab for lab, c in counts.items() if c == 1 and lab >= 0)
    ops = []
    for i, (t, ls) in enumerate(zip(operands, labels)):
        t, ls = _diagonals(t, list(ls), i)
        elsewhere = set(out).union(*[labels[j] for j in range(len(operands)) if j != i])
        drop = [d for d, lab in enumerate(ls) if lab not in elsewhere]
        if drop:
            t = t.sum(dim=drop)
            ls = [lab for lab in ls if lab in elsewhere]
        ops.append((t, ls))
    t, ls = ops[0]
    for k in range(1, len(ops)):
        keep = set(out).union(*[ops[j][1] for j in range(k + 1, len(ops))])
        t, ls = _contract(t, ls, ops[k][0], ops[k][1], keep)
    drop = [d for d, lab in enumerate(ls) if lab not in out]
    if drop:
        t = t.sum(dim=drop)
        ls = [lab for lab in ls if lab in out]
    return t.permute([ls.index(lab) for lab in out])   # a view even when nothing moves, as in PyTorch


def _diagonals(t, ls, i):
    """Take the diagonal of every label repeated in one operand (``ii->i``)."""
    for lab in list(dict.fromkeys(ls)):
        while ls.count(lab) > 1:
            d1 = ls.index(lab)
            d2 = ls.index(lab, d1 + 1)
            if t._shape[d1] != t._shape[d2]:
                raise RuntimeError(f"einsum(): subscript {chr(lab)} is repeated for operand {i} but the sizes don't "
                                   f"match, {t._shape[d1]} != {t._shape[d2]}")
            t = t.diagonal(0, d1, d2)
            ls = [x for j, x in enumerate(ls) if j not in (d1, d2)] + [lab]
    return t, ls


def _contract(a, la, b, lb, keep):
    """Product of two labelled operands summing the shared labels not in ``keep``: as one
    (batch, M, K) @ (batch, K, N) matmul, or a broadcast multiply when nothing is summed."""
    size_a = dict(zip(la, a._shape))
    size_b = dict(zip(lb, b._shape))
    for lab in set(la) & set(lb):
        if size_a[lab] != size_b[lab] and 1 not in (size_a[lab], size_b[lab]):
            raise RuntimeError(f"einsum(): operands do not broadcast: subscript "
                               f"{chr(lab) if lab >= 0 else '...'} has sizes {size_a[lab]} and {size_b[lab]}")
    summed = [lab for lab in la if lab in lb and lab not in keep]
    # a summed label of size 1 on one side: sum the other side first (sum_i a * b_i = a * sum_i b_i)
    for lab in [x for x in summed if size_a[x] != size_b[x]]:
        a, la = a.sum(dim=la.index(lab)), [x for x in la if x != lab]
        b, lb = b.sum(dim=lb.index(lab)), [x for x in lb if x != lab]
        summed.remove(lab)
    batch = [lab for lab in la if lab in lb and lab not in summed]
    a_only = [lab for lab in la if lab not in lb]
    b_only = [lab for lab in lb if lab not in la]
    res = batch + a_only + b_only
    if not summed or (not a_only and not b_only):
        # nothing to sum, or one number per batch entry: a broadcast multiply (and a sum) beats a GEMM
        ea = a.permute([la.index(x) for x in batch + a_only + summed])
        ea = ea.reshape(ea._shape + (1,) * len(b_only))
        eb = b.permute([lb.index(x) for x in batch + summed + b_only])
        eb = eb.reshape(eb._shape[:len(batch)] + (1,) * len(a_only) + eb._shape[len(batch):])
        r = ea * eb                                           # (*batch, *a_only, *summed, *b_only)
        return (r.sum(dim=list(range(len(batch), r.ndim))) if summed else r), res
    sa = [size_a[x] for x in batch]
    sb = [size_b[x] for x in batch]
    m = [size_a[x] for x in a_only]
    n = [size_b[x] for x in b_only]
    k = _numel([size_a[x] for x in summed])
    A = a.permute([la.index(x) for x in batch + a_only + summed]).reshape(sa + [_numel(m), k])
    B = b.permute([lb.index(x) for x in batch + summed + b_only]).reshape(sb + [k, _numel(n)])
    r = matmul(A, B)                                          # (*batch, M, N)
    return r.reshape(list(r._shape[:len(batch)]) + m + n), res


_einsum = Op("einsum", impl=_einsum_impl, family="matmul")


def einsum(*args):
    """Sum of products over the labelled dims of ``operands``, as in ``numpy.einsum``.

    ``equation`` names each operand's dims with letters (``"ij,jk->ik"``); ``...`` stands for
    broadcast dims; a letter repeated in one operand takes its diagonal; letters absent from the
    output are summed. Without ``->``, the output is ``...`` then the letters seen once, sorted.
    Also accepts the sublist format ``einsum(op0, [0, 1], op1, [1, 2], [0, 2])``.

    Example::

        >>> a, b = ttorch.ones(2, 3), ttorch.ones(3, 4)
        >>> ttorch.einsum("ij,jk->ik", a, b).shape
        ttorch.Size([2, 4])
    """
    if not args:
        raise TypeError("einsum(): must specify the equation string and at least one operand, or at least one "
                        "operand and its subscripts list")
    if isinstance(args[0], str):
        equation, operands = args[0], list(args[1:])
        if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            operands = list(operands[0])
    else:
        equation, operands = _sublist_equation(args)
    if not operands:
        raise RuntimeError("einsum(): must provide at least one operand")
    for i, t in enumerate(operands):
        if type(t) is not Tensor and getattr(t, "_level", None) is None:     # (``_level``: vmap's BatchedTensor)
            raise TypeError(f"einsum(): operand {i} must be Tensor, not {type(t).__name__}")
    return _einsum(*operands, equation=equation)



def _einsum_samples():
    r = rng("einsum")

    def s(eq, *shapes, grad=True):
        return Sample([eq] + [r.uniform(-1, 1, size=sh) for sh in shapes], grad=grad)
    return [s("ij,jk->ik", (3, 4), (4, 5)), s("bij,bjk->bik", (2, 3, 4), (2, 4, 2)), s("ii->i", (4, 4)),
            s("ii", (3, 3)), s("ij->ji", (2, 3)), s("ij->", (2, 3)), s("i,j->ij", (3,), (4,)),
            s("...ij,...jk", (2, 3, 4), (4, 2)), s("bn,anm,bm->ba", (2, 3), (4, 3, 5), (2, 5)),
            s("i,i", (5,), (5,)), s("ij,ij->i", (3, 4), (3, 4)), s("iij->j", (2, 2, 3))]


_einsum.samples = _einsum_samples
_einsum.public = einsum
_einsum.dtypes = _FLOATS
einsum.op = _einsum

__all__ = ["einsum"]
