"""Regenerates the .pt2 fixtures of //compiler/pt2 tests (run from anywhere):
    /work/main/.venv/bin/python compiler/pt2/testdata/gen_fixtures.py
Weights follow fixed patterns so the tests can assert exact values."""
import os
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


class Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = torch.nn.Linear(4, 3)
        with torch.no_grad():
            # weight[i][j] = (4 * i + j) * 0.25 - 1, bias = [0.5, -0.5, 1.5]
            self.l1.weight.copy_(torch.arange(12, dtype=torch.float32).reshape(3, 4) * 0.25 - 1)
            self.l1.bias.copy_(torch.tensor([0.5, -0.5, 1.5]))

    def forward(self, x):
        return torch.relu(self.l1(x))


class ConvBn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 2, 1, bias=False)
        self.bn = torch.nn.BatchNorm2d(2)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([2.0, -3.0]).reshape(2, 1, 1, 1))
            self.bn.weight.copy_(torch.tensor([1.25, 0.75]))
            self.bn.bias.copy_(torch.tensor([0.5, -0.5]))
            self.bn.running_mean.copy_(torch.tensor([0.1, 0.2]))
            self.bn.running_var.copy_(torch.tensor([1.5, 2.5]))
        # A non-contiguous buffer (a transposed view: sizes [3, 2], strides [1, 3]) and a lifted
        # tensor constant.
        self.register_buffer("scale", torch.arange(6, dtype=torch.float32).reshape(2, 3).t())
        self.k = torch.tensor([10.0, 20.0])

    def forward(self, x):
        return self.bn(self.conv(x)) + self.scale + self.k


def save(model, args, name):
    ep = torch.export.export(model.eval(), args).run_decompositions()
    path = os.path.join(HERE, name)
    torch.export.save(ep, path)
    print(path, os.path.getsize(path))


torch.manual_seed(0)
save(Mlp(), (torch.randn(2, 4),), "mlp.pt2")
save(ConvBn(), (torch.randn(1, 1, 3, 2),), "convbn.pt2")
