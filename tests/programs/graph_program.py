"""Message passing on a graph in plain PyTorch: a two-community graph from an edge list, a GCN layer
written three ways (``index_add_`` over edges, a sparse COO adjacency with ``torch.sparse.mm``, and a
dense normalized adjacency) that must agree, ``scatter_reduce`` max/mean pooling per node checked
against loops, and node classification trained with gradients through the sparse product.
tests/test_pytorch_programs.py runs it with ``import ttorch as torch``; the first argument is the
device, the second a number of training steps."""
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

device = sys.argv[1] if len(sys.argv) > 1 else "cpu"
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 80
quick = steps < 80
torch.manual_seed(0)

# Two communities of 8 nodes: dense inside, one bridge between; features are noise plus a weak hint.
N, F_IN, HID = 16, 4, 8
labels = torch.arange(N) // 8
pairs = [(i, j) for i in range(N) for j in range(i + 1, N) if labels[i] == labels[j] and (i + j) % 3 != 0]
pairs.append((0, 8))
src = torch.tensor([i for i, j in pairs] + [j for i, j in pairs] + list(range(N)))   # both directions,
dst = torch.tensor([j for i, j in pairs] + [i for i, j in pairs] + list(range(N)))   # plus self loops
edge_index = torch.stack([src, dst]).to(device)                                      # (2, E)
E = edge_index.shape[1]
x = (torch.randn(N, F_IN) * 0.5 + labels[:, None].float() * 0.3).to(device)
labels = labels.to(device)

deg = torch.zeros(N, device=device).index_add_(0, edge_index[1], torch.ones(E, device=device))
assert deg.sum().item() == E and torch.equal(deg, torch.bincount(edge_index[1].cpu(), minlength=N).float().to(device))
norm = deg.rsqrt()[edge_index[0]] * deg.rsqrt()[edge_index[1]]                     # (E,) symmetric normalization


def propagate_index_add(h):
    msgs = h[edge_index[0]] * norm[:, None]                                         # (E, F)
    return torch.zeros_like(h).index_add_(0, edge_index[1], msgs)


adj = torch.sparse_coo_tensor(edge_index.flip(0), norm, (N, N)).coalesce()          # row = destination
assert adj.is_sparse and adj._nnz() == E


def propagate_sparse(h):
    return torch.sparse.mm(adj, h)


dense = adj.to_dense()
assert torch.allclose(dense, dense.T, atol=1e-6)                                     # symmetric
h = torch.randn(N, 5, device=device)
assert torch.allclose(propagate_index_add(h), dense @ h, atol=1e-5)
assert torch.allclose(propagate_sparse(h), dense @ h, atol=1e-5)

# scatter_reduce: the max and the mean of the neighbours' features, per node.
v = torch.randn(E, device=device)
mx = torch.full((N,), float("-inf"), device=device).scatter_reduce(0, edge_index[1], v, reduce="amax")
mean = torch.zeros(N, device=device).scatter_reduce(0, edge_index[1], v, reduce="mean", include_self=False)
for node in range(N):
    incoming = v[edge_index[1] == node]
    assert mx[node] == incoming.max() and torch.allclose(mean[node], incoming.mean(), atol=1e-6)


class GCN(nn.Module):
    def __init__(self, propagate):
        super().__init__()
        self.propagate = propagate
        self.lin1, self.lin2 = nn.Linear(F_IN, HID), nn.Linear(HID, 2)

    def forward(self, x):
        h = F.relu(self.propagate(self.lin1(x)))
        return self.propagate(self.lin2(h))


a, b = GCN(propagate_index_add).to(device), GCN(propagate_sparse).to(device)
b.load_state_dict(a.state_dict())
assert torch.allclose(a(x), b(x), atol=1e-5)
F.cross_entropy(a(x), labels).backward()
F.cross_entropy(b(x), labels).backward()
for p, q in zip(a.parameters(), b.parameters()):                                   # gradients through the
    assert torch.allclose(p.grad, q.grad, atol=1e-5)                                # sparse product agree

optimizer = torch.optim.Adam(b.parameters(), lr=0.05)
train = torch.tensor([0, 1, 8, 9], device=device)                                    # two labels per class
losses = []
for step in range(steps):
    loss = F.cross_entropy(b(x)[train], labels[train])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
print(f"loss {losses[0]:.3f} -> {losses[-1]:.3f}")
assert losses[-1] < losses[0]
if not quick:
    with torch.no_grad():
        accuracy = (b(x).argmax(1) == labels).float().mean().item()
    assert accuracy >= 0.9, accuracy                                                 # labels spread along edges
print("ok", device)
