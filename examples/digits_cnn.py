"""Train a small CNN on scikit-learn's handwritten digits (1,797 8x8 images, shipped offline).

Plain PyTorch code run by ttorch (``import ttorch as torch``): a fixed, stratified train/test
split, a DataLoader over a TensorDataset, Adam with a OneCycleLR schedule, a tqdm bar per epoch,
then the model is saved with ``torch.save(model.state_dict())``, reloaded into a fresh model and
evaluated again. Prints ``test accuracy: XX.XX%`` and exits non-zero below ``--min-accuracy``
or when the reloaded model disagrees.

    python examples/digits_cnn.py                  # cpu, about a minute on 2 cores
    python examples/digits_cnn.py --device cuda    # on the GPU
"""
import argparse
import os
import sys
import tempfile
import time

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from tqdm import tqdm

import ttorch as torch
import ttorch.nn as nn
import ttorch.nn.functional as F
from ttorch.optim.lr_scheduler import OneCycleLR
from ttorch.utils.data import DataLoader, TensorDataset


class DigitsNet(nn.Module):
    """Three 3x3 conv blocks (BatchNorm, ReLU, max-pooling) and a linear classifier."""

    def __init__(self, width=16, num_classes=10, dropout=0.2):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1, bias=False),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.MaxPool2d(2),                                   # (N, 2w, 4, 4)
            nn.Conv2d(2 * width, 2 * width, 3, padding=1, bias=False),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.MaxPool2d(2),                                   # (N, 2w, 2, 2)
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(2 * width * 2 * 2, num_classes))

    def forward(self, x):                                      # x: (N, 1, 8, 8)
        return self.classifier(self.features(x))               # (N, num_classes)


def digits_datasets(split_seed=0, test_size=0.2):
    """The digits as (N, 1, 8, 8) float tensors scaled to [0, 1]; the split is stratified and fixed."""
    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.images, digits.target, test_size=test_size, random_state=split_seed, stratify=digits.target)

    def as_dataset(x, y):
        images = torch.tensor(x / 16.0, dtype=torch.float32).unsqueeze(1)
        return TensorDataset(images, torch.tensor(y, dtype=torch.long))

    return as_dataset(x_train, y_train), as_dataset(x_test, y_test)


@torch.no_grad()
def evaluate(model, loader, device):
    """Accuracy in percent over a loader."""
    model.eval()
    correct = total = 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        correct += (model(x).argmax(dim=1) == y).sum().item()
        total += y.numel()
    return 100.0 * correct / total


def train(model, loader, optimizer, scheduler, epoch, epochs, device):
    model.train()
    bar = tqdm(loader, desc=f"epoch {epoch + 1}/{epochs}", leave=False, file=sys.stderr)
    total_loss = 0.0
    for x, y in bar:
        x, y = x.to(device), y.to(device)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()                                       # OneCycleLR steps every batch
        total_loss += loss.item()
        bar.set_postfix(loss=f"{loss.item():.4f}", lr=f"{scheduler.get_last_lr()[0]:.2e}")
    return total_loss / len(loader)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-2, help="peak learning rate of the one-cycle schedule")
    parser.add_argument("--width", type=int, default=16, help="channels of the first conv layer")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", default=None, help="where to save the state dict (default: a temporary file)")
    parser.add_argument("--min-accuracy", type=float, default=97.0, help="exit non-zero below this test accuracy")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")

    torch.manual_seed(args.seed)
    train_set, test_set = digits_datasets()
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(args.seed))
    test_loader = DataLoader(test_set, batch_size=256)
    print(f"digits: {len(train_set)} train / {len(test_set)} test images, device {args.device}")

    model = DigitsNet(args.width).to(args.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=1e-4)
    scheduler = OneCycleLR(optimizer, max_lr=args.lr, epochs=args.epochs, steps_per_epoch=len(train_loader))
    start = time.perf_counter()
    for epoch in range(args.epochs):
        loss = train(model, train_loader, optimizer, scheduler, epoch, args.epochs, args.device)
        acc = evaluate(model, test_loader, args.device)
        print(f"epoch {epoch + 1:2d}/{args.epochs}  train loss {loss:.4f}  test accuracy {acc:6.2f}%")
    accuracy = evaluate(model, test_loader, args.device)
    print(f"trained in {time.perf_counter() - start:.1f}s")
    print(f"test accuracy: {accuracy:.2f}%")

    # Save the weights, load them into a fresh model, and check it scores the same.
    with tempfile.TemporaryDirectory() as tmp:
        path = args.save or os.path.join(tmp, "digits_cnn.pt")
        torch.save(model.state_dict(), path)
        reloaded = DigitsNet(args.width)
        reloaded.load_state_dict(torch.load(path, map_location="cpu"))
        reloaded.to(args.device)
        reloaded_accuracy = evaluate(reloaded, test_loader, args.device)
    print(f"reloaded test accuracy: {reloaded_accuracy:.2f}%")
    if reloaded_accuracy != accuracy:
        print("error: the reloaded model does not reproduce the test accuracy", file=sys.stderr)
        return 1
    if accuracy < args.min_accuracy:
        print(f"error: test accuracy {accuracy:.2f}% is below {args.min_accuracy:.2f}%", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
