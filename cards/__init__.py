"""Model cards for panx-ner run directories, rendered from Jinja templates.

Reads only run directories (training.run_dir) and results/, plus the facts in training.facts.
Public API: render_card, write_card (cards.render), card_assets (cards.assets), CardError;
render_base_card, write_base_card (cards.base_card): the card of the offline base made by training.pretrain.
"""

from importlib import import_module

_EXPORTS = {
    "render_card": "cards.render",
    "write_card": "cards.render",
    "card_assets": "cards.assets",
    "CardError": "cards.inputs",
    "render_base_card": "cards.base_card",
    "write_base_card": "cards.base_card",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    # Lazy: importing cards.render here would make `python -m cards.render` warn that the module
    # was already imported by its package before running as __main__.
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'cards' has no attribute {name!r}")
