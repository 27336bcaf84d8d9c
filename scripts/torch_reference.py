#!/usr/bin/env python3
"""PyTorch yardstick for `npm run bench`: the paper's two networks as ensdef builds them (src/models/),
batch 128, Adam 1e-3, random inputs; prints one JSON object.

    python3 scripts/torch_reference.py --threads 1 [--quick] [--only mnist-train,cifar10-train]

Measures (median of timed batches after warm-up, like scripts/bench.ts):
  {dataset}-train       samples/s of a full training step (forward, backward, Adam), dropout on
  {dataset}-input-grad  images/s of the loss's input gradient (eval mode), what FGSM/BIM compute
and the same per CPU-second of the process ('perCpuSecond').
The bench runs it with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (this machine forces an older
OpenBLAS core type that slows PyTorch's matmuls).
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn

BATCH = 128


def mnist_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(32 * 13 * 13, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))


def cifar10_net() -> nn.Module:
    layers = []
    channels = 3
    for filters, rate in [(32, 0.2), (64, 0.3), (128, 0.4)]:
        # As in src/models/cifar10.ts: the first conv of a block 'same', the second 'valid'.
        layers += [nn.Conv2d(channels, filters, 3, padding=1), nn.ReLU(), nn.Conv2d(filters, filters, 3), nn.ReLU(),
                   nn.MaxPool2d(2), nn.Dropout(rate)]
        channels = filters
    layers += [nn.Flatten(), nn.Linear(512, 512), nn.ReLU(), nn.Dropout(0.5), nn.Linear(512, 10)]
    return nn.Sequential(*layers)


NETS = {'mnist': (mnist_net, (1, 28, 28)), 'cifar10': (cifar10_net, (3, 32, 32))}


def timed(step, warmup: int, repeats: int):
    """Median wall seconds and median CPU seconds of this process per step (CPU time is what a shared
    machine cannot steal; with one thread it is what one unshared core would take)."""
    for _ in range(warmup):
        step()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        step()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def repeats(dataset: str, quick: bool):
    if dataset == 'mnist':
        return (3, 8) if quick else (5, 25)
    return (1, 3) if quick else (2, 8)


def measure(name: str, quick: bool):
    dataset, what = name.split('-', 1)
    build, shape = NETS[dataset]
    torch.manual_seed(7)
    model = build()
    x = torch.rand(BATCH, *shape)
    y = torch.randint(0, 10, (BATCH,))
    loss_fn = nn.CrossEntropyLoss()
    warmup, n = repeats(dataset, quick)
    if what == 'train':
        model.train()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step():
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
    else:
        model.eval()

        def step():
            xi = x.clone().requires_grad_(True)
            loss_fn(model(xi), y).backward()
            return xi.grad
    wall, cpu = timed(step, warmup, n)
    return BATCH / wall, BATCH / cpu


def matmul_gflops() -> float:
    """GFLOP/s of the MNIST dense layer's product (128×5408 · 5408×128) per CPU-second: whether torch's BLAS
    is a real one. Debian's python3-torch installed without recommends links the reference BLAS (about
    3 GFLOP/s here, 20x slower than OpenBLAS: apt-get install libopenblas0-pthread)."""
    a, b = torch.randn(128, 5408), torch.randn(5408, 128)
    _, cpu = timed(lambda: a @ b, 3, 10)
    return 2 * 128 * 5408 * 128 / cpu / 1e9


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--quick', action='store_true')
    parser.add_argument('--only', default='mnist-train,cifar10-train,mnist-input-grad,cifar10-input-grad')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    measured = {name: measure(name, args.quick) for name in args.only.split(',')}
    print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads(), 'matmulGflopsPerCpuSecond': matmul_gflops(),
                      'results': {name: r[0] for name, r in measured.items()},
                      'perCpuSecond': {name: r[1] for name, r in measured.items()}}))


if __name__ == '__main__':
    main()
