"""Every transfer strategy resumes exactly: what a strategy changes (frozen groups, per-layer rates, adapters, cached
features, a teacher, per-epoch augmentation) must come back from the checkpoint or be recomputed from the step."""

import pytest
import torch
from conftest import final_weights_whole_and_resumed, tiny_recipe

import nlptl

SETTINGS = {
    "gradual_unfreezing": {"strategy.name": "gradual_unfreezing", "strategy.unfreeze_every_steps": 2},
    "layerwise_lr": {"strategy.name": "layerwise_lr"},
    "lora": {"strategy.name": "lora"},
    "partial_freezing": {"strategy.name": "partial_freezing", "strategy.freeze_layers": 1},
    "feature_extraction": {"strategy.name": "feature_extraction"},
    "feature_extraction_cached": {"strategy.name": "feature_extraction", "strategy.cache_features": True},
    "distill": {"strategy.name": "distill", "distill.student_layers": 1},
    "augment_on_the_fly": {"augment.ops": ["synonym"], "augment.mode": "on_the_fly"},
}


@pytest.mark.slow  # one run and one resumed run per strategy: ~1 minute (test_trainer keeps the plain resume)
@pytest.mark.parametrize("arm", SETTINGS)
def test_resuming_mid_epoch_ends_with_the_same_weights(arm, tiny_model_dir, tiny_data_dir, tmp_path):
    teacher = tmp_path / "teacher"

    def recipe(out):
        made = tiny_recipe(tiny_model_dir, tiny_data_dir, out, epochs=2, eval_every=3, keep_checkpoints=50)
        made.distill.teacher = str(teacher)
        for dotted, value in SETTINGS[arm].items():
            section, name = dotted.split(".")
            setattr(getattr(made, section), name, value)
        return made

    if arm == "distill":
        nlptl.train(tiny_recipe(tiny_model_dir, tiny_data_dir, teacher, max_steps=2))
    whole, resumed = final_weights_whole_and_resumed(recipe, tmp_path)
    assert whole.keys() == resumed.keys()
    assert all(torch.equal(whole[key], resumed[key]) for key in whole)
