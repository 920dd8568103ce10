"""CPU inference settings: what they report and what they change on the model."""

from __future__ import annotations

import torch

from record.models import configure_cpu_inference, create_model, prepare_for_inference


def test_configure_cpu_inference_reports_the_applied_settings():
    threads = torch.get_num_threads()
    applied = configure_cpu_inference(threads, tune_allocator=False)
    assert applied == {"flush_denormal": True, "num_threads": threads, "allocator_tuned": False}


def test_prepare_for_inference_switches_to_eval_and_channels_last():
    model = create_model("record_carrada_rd").train()
    assert prepare_for_inference(model) is model and not model.training
    weight = model.decoder.conv_head1.conv.weight  # 16 x 16 x 3 x 3: the layouts differ
    assert weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()
    frame = model.example_input(1, size=(16, 4))
    with torch.no_grad():
        logits, _ = model.step(frame, model.zero_state(1, 16, 4))
    assert logits.shape == (1, 4, 16, 4) and logits.is_contiguous(memory_format=torch.channels_last)
