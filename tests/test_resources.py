"""Where the shipped files live (assistant.resources): the package's own folders in a wheel,
else the source tree's top-level ones. tests/test_packaging.py installs a wheel and checks
that the models found there load."""

from assistant import resources


def test_the_package_folder_wins_over_the_source_trees(monkeypatch, tmp_path):
    package, source = tmp_path / "site" / "assistant", tmp_path / "src"
    (package / "models").mkdir(parents=True)
    (source / "configs").mkdir(parents=True)
    monkeypatch.setattr(resources, "PACKAGE_DIR", package)
    monkeypatch.setattr(resources, "SOURCE_ROOT", source)
    assert resources.shipped_dir("models") == package / "models"
    assert resources.shipped_dir("configs") == source / "configs"


def test_this_checkout_ships_each_model_with_its_card_and_the_presets():
    for name in ("melody", "harmony"):
        assert (resources.MODELS_DIR / f"{name}.onnx").is_file() and (resources.MODELS_DIR / f"{name}.md").is_file()
    assert sorted(p.suffix for p in resources.PRESETS_DIR.iterdir()) and all(
        p.suffix == ".toml" for p in resources.PRESETS_DIR.iterdir() if p.is_file())
