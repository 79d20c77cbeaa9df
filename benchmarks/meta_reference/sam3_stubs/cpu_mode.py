"""Run Meta's sam3 code, which hard-codes ``device="cuda"`` in a few places (allocations,
``.cuda()``, pinned memory), on another device: a torch function mode that rewrites them."""

from __future__ import annotations

import torch
from torch.overrides import TorchFunctionMode


class CudaToDevice(TorchFunctionMode):
    def __init__(self, device="cpu"):
        super().__init__()
        self.device = torch.device(device)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        dev = kwargs.get("device")
        if dev is not None and str(dev).startswith("cuda"):
            kwargs["device"] = self.device
        if func in (torch.Tensor.cuda,):
            return args[0].to(self.device)
        if func is torch.Tensor.pin_memory:
            return args[0]
        if func is torch.Tensor.to and args and len(args) > 1 and str(args[1]).startswith("cuda"):
            args = (args[0], self.device, *args[2:])
        return func(*args, **kwargs)
