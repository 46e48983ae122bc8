"""Dropout whose random mask costs a fraction of torch's on CPU: a training speed setting, not a recipe change.

On CPU, torch draws a dropout mask with `bernoulli_` from its Mersenne Twister, one draw per element.
Profiled on the e5 preset (LoRA puts a dropout before each of the 72 adapted Linear layers, BERT adds
its own and the attention's: 110 masks a step), those draws took 41% of a training step on 2 cores.
The masks here have the same distribution, Bernoulli(1 - p) scaled by 1 / (1 - p) in the input's
dtype, but take four 16-bit uniforms from each 64-bit output of numpy's SFC64 generator. Each call
seeds that generator from torch's generator, so `set_seed` and a Trainer resumed from a checkpoint
(which restores torch's RNG state) draw the same masks again. p is met to 1/65536.

`use_fast_dropout(model)` swaps the model's `nn.Dropout` modules for `FastDropout`, and its attention
for "sdpa_fast_dropout": BERT hands the attention-probability dropout to the attention function as a
number, and SDPA would draw that mask with `bernoulli_` too. Outside training, and on GPUs (which
draw masks in parallel), both are torch's own dropout and SDPA.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from transformers import AttentionInterface, PreTrainedModel
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

FAST_ATTENTION = "sdpa_fast_dropout"
_LEVELS = 1 << 16  # a mask element is one 16-bit uniform


def keep_mask(shape: torch.Size, p: float) -> torch.Tensor:
    """A boolean tensor of `shape`, each element True with probability 1 - p (to 1/65536)."""
    n = shape.numel()
    seed = int(torch.randint(0, 2**63 - 1, (), dtype=torch.int64))
    bits = np.random.SFC64(seed).random_raw((n + 3) // 4).view(np.uint16)[:n]
    return torch.from_numpy(bits >= round(p * _LEVELS)).view(shape)


def drop(x: torch.Tensor, p: float) -> torch.Tensor:
    """x with each element zeroed with probability p and the rest scaled by 1 / (1 - p), as F.dropout."""
    if p == 1.0:
        return x * 0.0
    return x * keep_mask(x.shape, p).to(dtype=x.dtype).mul_(1.0 / (1.0 - p))


class FastDropout(nn.Dropout):
    """`nn.Dropout` with the mask from `keep_mask` on CPU; the identity outside training and when p is 0."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu":
            return super().forward(x)
        if not self.training or self.p == 0.0:
            return x
        return drop(x, self.p)


def _attention(module, query, key, value, attention_mask, dropout: float = 0.0, scaling=None, **kwargs):
    """SDPA, except in training on CPU: there SDPA's own math path (scores, softmax, dropout, weighted
    sum) with the mask from keep_mask. BERT's attention masks are SDPA's (boolean, or None)."""
    if dropout == 0.0 or query.device.type != "cpu":
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    scores = torch.matmul(query, key.transpose(2, 3)) * (scaling if scaling is not None else query.shape[-1] ** -0.5)
    if attention_mask is not None:
        scores = scores.masked_fill(~attention_mask, torch.finfo(scores.dtype).min)
    probs = drop(torch.softmax(scores, dim=-1), dropout)
    return torch.matmul(probs, value).transpose(1, 2).contiguous(), None


AttentionInterface.register(FAST_ATTENTION, _attention)
AttentionMaskInterface.register(FAST_ATTENTION, sdpa_mask)


def use_fast_dropout(model: nn.Module) -> int:
    """Swap every `nn.Dropout` in `model` (BERT's, PEFT's LoRA dropouts) for a `FastDropout` with the same
    p, and SDPA for FAST_ATTENTION, in place; returns how many dropouts. Nothing that is saved changes:
    dropout has no weights, and transformers never writes the attention setting into config.json."""
    for module in model.modules():
        if isinstance(module, PreTrainedModel) and module.config._attn_implementation == "sdpa":
            module.set_attn_implementation(FAST_ATTENTION)
    swapped = 0
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if type(child) is nn.Dropout:
                setattr(module, name, FastDropout(child.p, child.inplace))
                swapped += 1
    return swapped
