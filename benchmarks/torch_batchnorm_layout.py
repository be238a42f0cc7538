"""PyTorch training batch norm (forward + backward, 2 threads) on the channels_last view vs on a channels-first copy
and back, per channel count: the evidence for ``keras_mobilenets.layers._torch_channels_first_batch_norm``.

    python benchmarks/torch_batchnorm_layout.py [3,6,8,13,16,24,32]

For each channel count and map (128x16x16 to 500x32x32), ms per call of both forms (mean of 30 after 3 warm-up
calls) and the ratio channels-first / channels_last (below 1: the copies pay). Prints; writes nothing.
"""

from __future__ import annotations

import sys
import time

import torch
import torch.nn.functional as F  # noqa: N812

MAPS = [(128, 16), (128, 8), (128, 4), (32, 56), (32, 28), (500, 32)]  # (batch, side)


def _ms(f, n=30):
    for _ in range(3):
        f()
    start = time.perf_counter()
    for _ in range(n):
        f()
    return (time.perf_counter() - start) / n * 1e3


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    channel_counts = [int(v) for v in (argv[0] if argv else "3,6,8,13,16,24,32").split(",")]
    print("NHWC shape | channels_last ms | channels-first copy ms | ratio")
    for c in channel_counts:
        for n, h in MAPS:
            if n * h * h * c > 3e7:
                continue
            x, dy = torch.randn(n, h, h, c), torch.randn(n, h, h, c)
            gamma, beta = torch.rand(c, requires_grad=True), torch.zeros(c, requires_grad=True)
            mean, var = torch.zeros(c), torch.ones(c)

            def view():
                xx = x.detach().requires_grad_()
                F.batch_norm(xx.permute(0, 3, 1, 2), mean, var, gamma, beta, True, 0.1, 1e-3).permute(
                    0, 2, 3, 1).backward(dy)

            def copy():
                xx = x.detach().requires_grad_()
                F.batch_norm(xx.permute(0, 3, 1, 2).contiguous(), mean, var, gamma, beta, True, 0.1, 1e-3).contiguous(
                    memory_format=torch.channels_last).permute(0, 2, 3, 1).backward(dy)

            a, b = _ms(view), _ms(copy)
            print(f"{(n, h, h, c)} | {a:.3f} | {b:.3f} | {b / a:.2f}", flush=True)


if __name__ == "__main__":
    main()
