"""PowerSGD gradient compression (Vogels et al., 2019) as DDP communication hooks, PyTorch's algorithm:
``powerSGD_hook`` compresses each large enough gradient matrix ``M`` to ``P = M Q`` and ``Q = M^T P`` (rank
``matrix_approximation_rank``, ``P`` orthogonalized in between), all-reduces ``P`` and ``Q`` instead of ``M``,
with error feedback (the compression error is added to the next step's gradient) and warm start (``Q`` is
reused from the previous step); ``batched_powerSGD_hook`` compresses the whole bucket as one square matrix.

Differences from PyTorch: the initial random ``Q`` comes from ttorch's generator (seeded from the state's
``numpy`` ``RandomState`` as PyTorch's), so its values differ from PyTorch's; the rest of the computation is
PyTorch's, step for step. ``batched_powerSGD_hook`` orthogonalizes its 2-D ``P`` and ``Q`` as a batch of one
(PyTorch 2.13's ``_orthogonalize`` asserts on a 2-D matrix there).
"""
import logging
import math
from collections import defaultdict

import numpy as np

from ... import distributed_c10d as c10d
from ...collectives import all_reduce
from . import default_hooks as default

__all__ = ["PowerSGDState", "powerSGD_hook", "batched_powerSGD_hook"]

logger = logging.getLogger(__name__)


def _t():
    import ttorch
    return ttorch


def _orthogonalize(matrices, epsilon=0):
    """Orthonormalize the columns of each matrix of a batch ``(b, n, r)`` in place: Gram-Schmidt for rank
    <= 2 or half precision, QR otherwise (PyTorch's choice)."""
    if matrices.dim() == 2:
        matrices = matrices.unsqueeze(0)
    if not (matrices.dim() == 3 and matrices.shape[2] <= matrices.shape[1]):
        raise AssertionError
    t = _t()
    if matrices.shape[2] <= 2 or matrices.dtype in (t.float16, t.bfloat16):
        _orthogonalize_gram_schmidt(matrices, epsilon=epsilon)
    else:
        matrices.copy_(t.linalg.qr(matrices)[0])


def _orthogonalize_gram_schmidt(matrices, epsilon=0):
    t = _t()
    num_cols = matrices.shape[2]
    for i in range(num_cols):
        col = matrices[:, :, i:i + 1]
        col.div_(t.norm(col, dim=1, keepdim=True) + epsilon if epsilon else t.norm(col, dim=1, keepdim=True))
        if i + 1 < num_cols:
            rest = matrices[:, :, i + 1:]
            rest.sub_(t.sum(col * rest, dim=1, keepdim=True) * col)


def _should_compress(num_rows, num_cols, matrix_approximation_rank, min_compression_rate):
    uncompressed_size = num_rows * num_cols
    compressed_size = (num_rows + num_cols) * matrix_approximation_rank
    return compressed_size * min_compression_rate < uncompressed_size, uncompressed_size, compressed_size


def _random_normal(shape, dtype, seed):
    """Standard normal values for a fresh ``Q``, from the given seed, leaving the global generator as it was."""
    t = _t()
    with t.random.fork_rng(devices=[]):
        t.manual_seed(seed)
        return t.randn(*shape, device="cpu", dtype=dtype)


class PowerSGDState:
    r"""The hyperparameters of PowerSGD and its state (error feedback, warm-start ``P``/``Q``, iteration count).

    Args:
        process_group: the group to reduce over (the default group when None).
        matrix_approximation_rank (int): the rank of the low-rank approximation (1 to 4 is typical).
        start_powerSGD_iter (int): plain all-reduce before this iteration (> 1 with error feedback or warm start).
        min_compression_rate (float): compress a matrix only if ``(n + m) * rank * rate < n * m``.
        use_error_feedback (bool), warm_start (bool): PowerSGD's two accuracy devices.
        orthogonalization_epsilon (float): added to the column norms in Gram-Schmidt.
        random_seed (int): seeds the ``numpy`` generator the initial ``Q`` seeds come from.
        batch_tensors_with_same_shape (bool): compress same-shaped matrices in one batched product.

    Example::

        >>> # state = PowerSGDState(process_group=None, matrix_approximation_rank=1, start_powerSGD_iter=10)
        >>> # ddp_model.register_comm_hook(state, powerSGD_hook)
    """

    __slots__ = ["process_group", "matrix_approximation_rank", "start_powerSGD_iter", "min_compression_rate",
                 "orthogonalization_epsilon", "use_error_feedback", "warm_start", "batch_tensors_with_same_shape",
                 "rng", "error_dict", "p_memory_dict", "q_memory_dict", "iter", "total_numel_before_compression",
                 "total_numel_after_compression", "compression_stats_logging_frequency", "next_stats_report"]

    def __init__(self, process_group, matrix_approximation_rank=1, start_powerSGD_iter=1_000, min_compression_rate=2,
                 use_error_feedback=True, warm_start=True, orthogonalization_epsilon=0, random_seed=0,
                 compression_stats_logging_frequency=10_000, batch_tensors_with_same_shape=False):
        self.process_group = process_group
        self.matrix_approximation_rank = matrix_approximation_rank
        if (use_error_feedback or warm_start) and start_powerSGD_iter <= 1:
            raise ValueError("Expect `start_powerSGD_iter` > 1 if `use_error_feedback` or `warm_start` is enabled, "
                             "because PowerSGD can only be applied after the first two iterations in DDP.")
        self.start_powerSGD_iter = start_powerSGD_iter
        self.min_compression_rate = min_compression_rate
        self.use_error_feedback = use_error_feedback
        self.warm_start = warm_start
        self.orthogonalization_epsilon = orthogonalization_epsilon
        self.rng = np.random.RandomState(random_seed)
        self.error_dict, self.p_memory_dict, self.q_memory_dict = {}, {}, {}
        self.iter = 0
        self.total_numel_before_compression = 0
        self.total_numel_after_compression = 0
        self.compression_stats_logging_frequency = max(1, compression_stats_logging_frequency)
        self.next_stats_report = 0
        self.batch_tensors_with_same_shape = batch_tensors_with_same_shape

    def __getstate__(self):
        return {slot: getattr(self, slot) for slot in self.__slots__ if slot != "process_group"}

    def __setstate__(self, state):
        self.process_group = c10d._default_pg()
        for slot, value in state.items():
            setattr(self, slot, value)

    def maybe_increase_iter(self, bucket):
        """Count an iteration at the last bucket of each backward."""
        if bucket.is_last():
            self.iter += 1
        if self.iter == self.start_powerSGD_iter:
            logger.info("Start to apply PowerSGD after %s iterations.", self.iter)

    def compression_stats(self):
        """``(compress_rate, numel_before_compression, numel_after_compression)`` so far."""
        after = self.total_numel_after_compression
        rate = self.total_numel_before_compression / after if after > 0 else 0
        return rate, self.total_numel_before_compression, after


def _report_compression_stats(bucket, state):
    if bucket.is_last() and state.iter >= state.next_stats_report:
        stats = state.compression_stats()
        logger.info("Compression stats: iter %s, total before compression %s, total after compression %s, rate %s",
                    state.iter, stats[1], stats[2], stats[0])
        state.next_stats_report = state.iter + state.compression_stats_logging_frequency


def _error_feedback(state, bucket_index, flat):
    """With error feedback: add the bucket's last compression error to ``flat`` (in place; a zero error the first
    time) and return a copy of the result, from which the new error is taken; else None."""
    if not state.use_error_feedback:
        return None
    if bucket_index in state.error_dict:
        flat.add_(state.error_dict[bucket_index])
    else:
        state.error_dict[bucket_index] = flat.new_zeros(flat.shape)
    return flat.detach().clone()


def _start(state, bucket):
    """(group, world size, the bucket's buffer, and a plain all-reduce's future while PowerSGD has not started)."""
    group_to_use = state.process_group if state.process_group is not None else c10d.group.WORLD
    input_tensor = bucket.buffer()
    fut = None
    if state.iter < state.start_powerSGD_iter:
        state.maybe_increase_iter(bucket)
        fut = default._allreduce_fut(group_to_use, input_tensor)
    return group_to_use, group_to_use.size(), input_tensor, fut


def powerSGD_hook(state, bucket):
    r"""PowerSGD: all-reduce low-rank factors of each gradient matrix instead of the matrix.

    Vectors (biases) and matrices that would not compress by ``min_compression_rate`` are all-reduced as they
    are, in one flat message; each other gradient, viewed as ``(shape[0], -1)``, is approximated as ``P Q^T``.
    Plain all-reduce runs for the first ``state.start_powerSGD_iter`` iterations.

    Args:
        state (PowerSGDState): hyperparameters and state.
        bucket (GradBucket): the gradients.

    Returns:
        A future of the bucket's flat buffer, updated in place.
    """
    t = _t()
    group_to_use, world_size, input_tensor, fut = _start(state, bucket)
    if fut is not None:
        return fut

    device, dtype = input_tensor.device, input_tensor.dtype
    bucket_index = bucket.index()
    input_tensor_cp = _error_feedback(state, bucket_index, input_tensor)

    tensors = bucket.gradients()
    tensors_to_compress, uncompressed_tensors = [], []
    total_ps_size = total_qs_size = 0
    for tensor in tensors:
        matrix = tensor.view(tensor.shape[0], -1) if tensor.dim() else tensor.view(1, 1)
        n, m = matrix.shape
        rank = min(n, m, state.matrix_approximation_rank)
        compress, before, after = _should_compress(n, m, rank, state.min_compression_rate)
        state.total_numel_before_compression += before
        if compress:
            tensors_to_compress.append(matrix)
            total_ps_size += n * rank
            total_qs_size += m * rank
            state.total_numel_after_compression += after
        else:
            uncompressed_tensors.append(tensor)
            state.total_numel_after_compression += before
    _report_compression_stats(bucket, state)

    uncompressed_memory = (t.cat([x.reshape(-1) for x in uncompressed_tensors]) if uncompressed_tensors
                           else t.tensor([], device=device, dtype=dtype))
    need_randomize_qs = False
    if not state.warm_start or bucket_index not in state.p_memory_dict:
        need_randomize_qs = True
        state.p_memory_dict[bucket_index] = t.empty(total_ps_size, device=device, dtype=dtype)
        state.q_memory_dict[bucket_index] = t.empty(total_qs_size, device=device, dtype=dtype)

    shape_to_tensors = defaultdict(list)
    for tensor in tensors_to_compress:
        shape_to_tensors[tuple(tensor.shape)].append(tensor)

    def batches():
        for same in shape_to_tensors.values():
            if state.batch_tensors_with_same_shape and len(same) > 1:
                yield t.stack(same)
            else:
                yield from (x.unsqueeze(0) for x in same)

    tensors_to_compress, ps, qs = [], [], []
    p_idx = q_idx = 0
    for tensor in batches():
        b, n, m = tensor.shape
        rank = min(n, m, state.matrix_approximation_rank)
        tensors_to_compress.append(tensor)
        ps.append(state.p_memory_dict[bucket_index][p_idx:p_idx + b * n * rank].view(b, n, rank))
        qs.append(state.q_memory_dict[bucket_index][q_idx:q_idx + b * m * rank].view(b, m, rank))
        p_idx += b * n * rank
        q_idx += b * m * rank

    if not need_randomize_qs:
        for q in qs:
            _orthogonalize(q, state.orthogonalization_epsilon)
    else:
        seed = int(state.rng.randint(1_000_000_000))
        with t.random.fork_rng(devices=[]):        # one seed for all the bucket's Qs, drawn in turn
            t.manual_seed(seed)
            for q in qs:
                q.copy_(t.randn(*q.shape, device="cpu", dtype=dtype))
                _orthogonalize(q, state.orthogonalization_epsilon)

    for tensor, q, p in zip(tensors_to_compress, qs, ps):
        p.copy_(t.bmm(tensor, q))

    uncompressed_fut = all_reduce(uncompressed_memory, group=group_to_use, async_op=True).get_future()

    def unpack_uncompressed_tensors_and_allreduce_ps(fut):
        memory = fut.value()[0].div_(world_size)
        idx = 0
        for tensor in uncompressed_tensors:
            tensor.copy_(memory[idx:idx + tensor.numel()].view_as(tensor))
            idx += tensor.numel()
        return all_reduce(state.p_memory_dict[bucket_index], group=group_to_use,
                          async_op=True).get_future().wait()[0]

    def compute_qs(fut):
        state.p_memory_dict[bucket_index] = fut.value()
        for p in ps:
            _orthogonalize(p, state.orthogonalization_epsilon)
        for tensor, p, q in zip(tensors_to_compress, ps, qs):
            q.copy_(t.bmm(tensor.transpose(1, 2), p))
        return all_reduce(state.q_memory_dict[bucket_index], group=group_to_use,
                          async_op=True).get_future().wait()[0]

    def decompress(fut):
        state.q_memory_dict[bucket_index] = fut.value().div_(world_size)
        for p, q, tensor in zip(ps, qs, tensors_to_compress):
            tensor.copy_(t.bmm(p, q.transpose(1, 2)))
        if state.batch_tensors_with_same_shape:
            for tensor in tensors_to_compress:
                if tensor.shape[0] == 1:
                    continue
                for i, original in enumerate(shape_to_tensors[tuple(tensor.shape[1:])]):
                    original.copy_(tensor[i])
        if state.use_error_feedback:
            state.error_dict[bucket_index] = input_tensor_cp - input_tensor
        if not state.warm_start:
            state.p_memory_dict.clear()
            state.q_memory_dict.clear()
        state.maybe_increase_iter(bucket)
        return input_tensor

    return uncompressed_fut.then(unpack_uncompressed_tensors_and_allreduce_ps).then(compute_qs).then(decompress)


def batched_powerSGD_hook(state, bucket):
    r"""PowerSGD on the whole bucket at once: the flat gradients, zero-padded to a square ``s x s`` matrix,
    are approximated as ``P Q^T`` of rank ``matrix_approximation_rank`` (stronger compression than
    ``powerSGD_hook``, usually less accurate).

    Args:
        state (PowerSGDState): hyperparameters and state.
        bucket (GradBucket): the gradients.
    """
    t = _t()
    group_to_use, world_size, input_tensor, fut = _start(state, bucket)
    if fut is not None:
        return fut

    device, dtype = input_tensor.device, input_tensor.dtype
    total_length = input_tensor.shape[0]
    state.total_numel_before_compression += total_length
    side = math.ceil(math.sqrt(total_length))
    state.total_numel_after_compression += side * state.matrix_approximation_rank * 2
    padded_length = side ** 2
    padded = t.cat([input_tensor, t.zeros(padded_length - total_length, device=device, dtype=dtype)])
    _report_compression_stats(bucket, state)

    bucket_index = bucket.index()
    input_cp = _error_feedback(state, bucket_index, padded)
    matrix = padded.view(side, side)
    if not state.warm_start or bucket_index not in state.p_memory_dict:
        state.p_memory_dict[bucket_index] = t.empty(side, state.matrix_approximation_rank, device=device, dtype=dtype)
        seed = int(state.rng.randint(1_000_000_000))
        state.q_memory_dict[bucket_index] = _random_normal((side, state.matrix_approximation_rank), dtype,
                                                           seed).to(device)
    _orthogonalize(state.q_memory_dict[bucket_index])
    state.p_memory_dict[bucket_index].copy_(t.matmul(matrix, state.q_memory_dict[bucket_index]))
    allreduce_p_fut = all_reduce(state.p_memory_dict[bucket_index], group=group_to_use, async_op=True).get_future()

    def compute_q(fut):
        state.p_memory_dict[bucket_index] = fut.value()[0]
        _orthogonalize(state.p_memory_dict[bucket_index])
        state.q_memory_dict[bucket_index].copy_(t.matmul(matrix.t(), state.p_memory_dict[bucket_index]))
        return all_reduce(state.q_memory_dict[bucket_index], group=group_to_use,
                          async_op=True).get_future().wait()[0]

    def decompress(fut):
        state.q_memory_dict[bucket_index] = fut.value().div_(world_size)
        matrix.copy_(t.matmul(state.p_memory_dict[bucket_index], state.q_memory_dict[bucket_index].t()))
        if state.use_error_feedback:
            state.error_dict[bucket_index] = input_cp - padded
        if not state.warm_start:
            state.p_memory_dict.clear()
            state.q_memory_dict.clear()
        input_tensor.copy_(padded[:total_length])
        state.maybe_increase_iter(bucket)
        return input_tensor

    return allreduce_p_fut.then(compute_q).then(decompress)
