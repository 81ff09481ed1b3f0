"""``AdaptiveLogSoftmaxWithLoss``: the efficient softmax of Grave et al. (2016) for large vocabularies.

The head scores the frequent classes (the shortlist) and one logit per cluster of rarer classes;
each cluster's tail, a low-rank projection, scores the classes inside it:
``log p(c) = log p_head(cluster(c)) + log p_tail(c | cluster(c))``.
"""
from collections import namedtuple

from ...ops.movement import cat
from .. import functional as F
from .container import ModuleList, Sequential
from .linear import Linear
from .module import Module

__all__ = ["AdaptiveLogSoftmaxWithLoss"]

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


class AdaptiveLogSoftmaxWithLoss(Module):
    r"""Adaptive softmax: classes sorted by frequency, the frequent ones scored by the head, the rest
    in clusters scored by smaller tails.

    Args:
        in_features (int): number of features in the input.
        n_classes (int): number of classes.
        cutoffs (Sequence[int]): increasing cluster boundaries in ``[1, n_classes - 1]``; classes below
            ``cutoffs[0]`` form the shortlist.
        div_value (float): cluster ``i``'s projection has ``in_features // div_value ** (i + 1)``
            features. Default: 4.0.
        head_bias (bool): give the head a bias. Default: ``False``.

    Returns:
        ``_ASMoutput(output, loss)``: ``output`` (N) the log-probability of each target, ``loss`` the
        mean negative log-likelihood.

    Shape:
        - input: :math:`(N, \text{in\_features})` or :math:`(\text{in\_features})`
        - target: :math:`(N)` or :math:`()`, each in ``[0, n_classes - 1]``

    Example::

        >>> import ttorch
        >>> _ = ttorch.manual_seed(0)
        >>> asm = AdaptiveLogSoftmaxWithLoss(8, 10, cutoffs=[3, 6], div_value=2.0)
        >>> x, target = ttorch.randn(4, 8), ttorch.tensor([0, 4, 7, 9])
        >>> output, loss = asm(x, target)
        >>> output.shape, round(loss.item(), 4)
        (ttorch.Size([4]), 3.3613)
        >>> asm.log_prob(x).exp().sum(1)        # a distribution over the 10 classes per row
        tensor([1.0000, 1.0000, 1.0000, 1.0000], grad_fn=<SumBackward0>)
        >>> asm.predict(x)                      # log_prob(x).argmax(1), the tails only where needed
        tensor([1, 8, 1, 1])
    """

    def __init__(self, in_features, n_classes, cutoffs, div_value=4.0, head_bias=False, device=None, dtype=None):
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > (n_classes - 1)
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted in an increasing "
                             "order, where each value is between 1 and n_classes-1")
        self.in_features = in_features
        self.n_classes = n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value = div_value
        self.head_bias = head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(in_features, self.head_size, bias=head_bias, device=device, dtype=dtype)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hsz = int(in_features // (div_value ** (i + 1)))
            osz = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(Sequential(Linear(in_features, hsz, bias=False, device=device, dtype=dtype),
                                        Linear(hsz, osz, bias=False, device=device, dtype=dtype)))

    def reset_parameters(self):
        self.head.reset_parameters()
        for i2h, h2o in self.tail:
            i2h.reset_parameters()
            h2o.reset_parameters()

    def forward(self, input_, target_):
        targ_dim = target_.dim()
        if targ_dim == 1:
            if input_.size(0) != target_.size(0):
                raise RuntimeError("Input and target should have the same size in the batch dimension.")
            if input_.dim() != 2:
                raise RuntimeError(f"1D target tensor expects 2D input tensors, but found inputs with size "
                                   f"{input_.size()}")
        elif targ_dim == 0:
            if input_.dim() != 1:
                raise RuntimeError(f"0D target tensor expects 1D input tensors, but found inputs with size "
                                   f"{input_.size()}")
        else:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        is_batched = targ_dim > 0
        input = input_ if is_batched else input_.unsqueeze(0)       # (N, in_features)
        target = target_ if is_batched else target_.unsqueeze(0)    # (N,)

        # each row's head column (its target in the shortlist, else its cluster's logit), and for the
        # rows in a cluster, the log-probability of the target inside it
        output = input.new_zeros(target.size(0))
        gather_inds = target.new_zeros(target.size(0))
        used_rows = 0
        for i, (low, high) in enumerate(zip([0] + self.cutoffs, self.cutoffs)):
            target_mask = (target >= low) & (target < high)
            row_indices = target_mask.nonzero().squeeze(1)
            if row_indices.numel() == 0:
                continue
            if i == 0:
                gather_inds = gather_inds.index_copy(0, row_indices, target[target_mask])
            else:
                cluster_logprob = F.log_softmax(self.tail[i - 1](input.index_select(0, row_indices)), dim=1)
                relative_target = (target[target_mask] - low).unsqueeze(1)
                output = output.index_copy(0, row_indices, cluster_logprob.gather(1, relative_target).squeeze(1))
                gather_inds = gather_inds.index_fill(0, row_indices, self.shortlist_size + i - 1)
            used_rows += row_indices.numel()
        if used_rows != target.size(0):
            raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but values in range "
                               f"[{target.min().item()}, {target.max().item()}] were found. ")

        head_logprob = F.log_softmax(self.head(input), dim=1)
        output = output + head_logprob.gather(1, gather_inds.unsqueeze(1)).squeeze(1)
        loss = (-output).mean()
        return _ASMoutput(output if is_batched else output.squeeze(0), loss)

    def _get_full_log_prob(self, input, head_output):
        """The log-probabilities of all ``n_classes`` from the input and the head's output."""
        head_logprob = F.log_softmax(head_output, dim=1)
        parts = [head_logprob[:, :self.shortlist_size]]
        for i, cluster in enumerate(self.tail):
            cluster_logprob = F.log_softmax(cluster(input), dim=1)
            parts.append(cluster_logprob + head_logprob[:, self.shortlist_size + i].unsqueeze(1))
        return cat(parts, dim=1)    # (N, n_classes)

    def log_prob(self, input):
        r"""Log-probabilities of all ``n_classes``: input :math:`(N, \text{in\_features})`, output
        :math:`(N, \text{n\_classes})`."""
        return self._get_full_log_prob(input, self.head(input))

    def predict(self, input):
        r"""The most likely class of each row of ``input`` (N), as ``log_prob(input).argmax(dim=1)``,
        without the tails for the rows whose best head logit is in the shortlist."""
        head_output = self.head(input)
        output = head_output.argmax(dim=1)
        not_in_shortlist = output >= self.shortlist_size
        if not not_in_shortlist.any():
            return output
        if not_in_shortlist.all():
            return self._get_full_log_prob(input, head_output).argmax(dim=1)
        log_prob = self._get_full_log_prob(input[not_in_shortlist], head_output[not_in_shortlist])
        output[not_in_shortlist] = log_prob.argmax(dim=1)
        return output
