"""``block_import(monkeypatch, name)``: ``import name`` fails as where it is not installed
(a test helper, for the one-line errors of optional extras)."""

import builtins


def block_import(monkeypatch, blocked: str) -> None:
    real_import = builtins.__import__

    def importer(name, *args, **kwargs):
        if name == blocked:
            raise ImportError(f"No module named {blocked!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", importer)
