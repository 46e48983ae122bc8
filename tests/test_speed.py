"""training.speed: the fast dropout keeps dropout's distribution, its gradient, torch's seeding, and
SDPA's arithmetic; it changes nothing outside training and nothing that is saved."""

from __future__ import annotations

import json
from unittest import mock

import pytest
import torch
from transformers import AutoModelForTokenClassification, BertConfig

from training import speed
from training.speed import FAST_ATTENTION, FastDropout, keep_mask, use_fast_dropout


def tiny_bert(attention_dropout: float = 0.1, hidden_dropout: float = 0.1):
    config = BertConfig(
        vocab_size=120,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        num_labels=7,
        attention_probs_dropout_prob=attention_dropout,
        hidden_dropout_prob=hidden_dropout,
    )
    torch.manual_seed(0)
    return AutoModelForTokenClassification.from_config(config, attn_implementation="sdpa")


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_keep_mask_keeps_one_minus_p_independently(p):
    mask = keep_mask(torch.Size([1000, 1000]), p).double()
    assert mask.shape == (1000, 1000) and mask.dtype == torch.float64
    assert abs(mask.mean().item() - (1 - p)) < 0.003  # 1M draws: 5 standard errors at most
    # neighbours (the four 16-bit quarters of one 64-bit draw) are uncorrelated
    flat = mask.flatten() - mask.mean()
    assert abs((flat[:-1] * flat[1:]).mean().item()) / flat.var().item() < 0.01


def test_keep_mask_follows_torchs_seed_and_differs_between_calls():
    torch.manual_seed(7)
    first, second = keep_mask(torch.Size([4096]), 0.3), keep_mask(torch.Size([4096]), 0.3)
    torch.manual_seed(7)
    assert torch.equal(first, keep_mask(torch.Size([4096]), 0.3))  # set_seed and a restored RNG state repeat it
    assert not torch.equal(first, second)


def test_fast_dropout_zeroes_and_rescales_like_dropout_and_so_does_its_gradient():
    drop = FastDropout(0.25).train()
    x = torch.randn(64, 300, requires_grad=True)
    y = drop(x)
    kept = y != 0
    assert 0.70 < kept.double().mean().item() < 0.80
    assert torch.allclose(y[kept], x[kept] / 0.75)
    y.sum().backward()
    assert torch.allclose(x.grad, kept.to(x.dtype) / 0.75)
    assert drop.eval()(x) is x  # outside training it is the identity
    assert torch.equal(FastDropout(0.0).train()(x), x)
    assert FastDropout(1.0).train()(x).abs().sum() == 0
    bf16 = FastDropout(0.5).train()(torch.ones(1000, dtype=torch.bfloat16))
    assert bf16.dtype == torch.bfloat16 and set(bf16.unique().tolist()) == {0.0, 2.0}


def test_use_fast_dropout_swaps_every_dropout_of_a_lora_model_and_saves_nothing_new(tmp_path):
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(
        tiny_bert(),
        LoraConfig(
            task_type="TOKEN_CLS",
            r=2,
            lora_alpha=4,
            lora_dropout=0.1,
            target_modules=["query", "value", "dense"],
            modules_to_save=["classifier"],
        ),
    )
    before = sum(isinstance(m, torch.nn.Dropout) for m in model.modules())
    assert use_fast_dropout(model) == before > 10  # BERT's and the adapter's
    assert all(type(m) is FastDropout for m in model.modules() if isinstance(m, torch.nn.Dropout))
    assert model.get_base_model().config._attn_implementation == FAST_ATTENTION
    model.get_base_model().save_pretrained(tmp_path)
    assert FAST_ATTENTION not in (tmp_path / "config.json").read_text()  # a saved model loads anywhere
    assert "dropout" not in json.dumps([k for k in model.state_dict()])  # dropout has no weights


def test_the_attention_with_dropout_is_sdpas_arithmetic():
    """With every mask element kept and p about 0, training through the fast attention gives SDPA's
    logits, padding included; and it is SDPA itself whenever no dropout is asked for."""
    reference, fast = tiny_bert(hidden_dropout=0.0), tiny_bert(hidden_dropout=0.0)
    use_fast_dropout(fast)
    ids = torch.randint(5, 120, (3, 11))
    attention_mask = torch.ones(3, 11, dtype=torch.long)
    attention_mask[1, 7:] = 0
    attention_mask[2, 4:] = 0
    expected = reference.eval()(input_ids=ids, attention_mask=attention_mask).logits
    for module in fast.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 1e-9
    keep_all = mock.Mock(side_effect=lambda shape, p: torch.ones(shape, dtype=torch.bool))
    with mock.patch.object(speed, "keep_mask", keep_all):
        got = fast.train()(input_ids=ids, attention_mask=attention_mask).logits
    assert (3, 4, 11, 11) in [tuple(call.args[0]) for call in keep_all.call_args_list]  # the attention's own mask
    assert torch.allclose(got, expected, atol=1e-6)
    assert torch.allclose(fast.eval()(input_ids=ids, attention_mask=attention_mask).logits, expected, atol=1e-6)


def test_training_draws_different_attention_masks_and_learns():
    model = tiny_bert()
    use_fast_dropout(model)
    ids = torch.randint(5, 120, (4, 9))
    model.train()
    a, b = model(input_ids=ids).logits, model(input_ids=ids).logits
    assert not torch.allclose(a, b)  # dropout is on
    loss = model(input_ids=ids, labels=torch.zeros_like(ids)).loss
    loss.backward()
    assert all(p.grad is not None and p.grad.isfinite().all() for p in model.parameters())


def test_panx_ners_trainer_trains_with_the_fast_dropout(tmp_path):
    from transformers import AutoTokenizer

    from core.facts import OFFLINE_BASE_ID
    from training.presets import get_preset
    from training.train import build_trainer, training_arguments

    model = tiny_bert()
    tokenizer = AutoTokenizer.from_pretrained(OFFLINE_BASE_ID, local_files_only=True)
    build_trainer(model, tokenizer, training_arguments(tmp_path, get_preset("smoke"), eval_strategy="no"), [])
    assert all(type(m) is FastDropout for m in model.modules() if isinstance(m, torch.nn.Dropout))


@pytest.mark.parametrize(
    ("avx512_bf16", "amx", "expected"), [(False, False, "no"), (True, False, "bf16"), (False, True, "bf16")]
)
def test_cpu_autocasts_to_bf16_only_where_the_cpu_has_it_natively(avx512_bf16, amx, expected, monkeypatch):
    """oneDNN reports bf16 support on any AVX-512 CPU and emulates it there, 1.7 times slower than fp32."""
    from training.runtime import mixed_precision

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True, raising=False)
    assert mixed_precision() == expected
