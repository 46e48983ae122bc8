"""Model cards for panx-ner run directories, rendered from Jinja templates.

Reads only run directories and results/ through core/ (core.run_dir, core.results, core.facts);
never imports training/, space/ or workflow/.
Public API: render_card, write_card (cards.render), CardError.
"""

from importlib import import_module

_EXPORTS = {
    "render_card": "cards.render",
    "write_card": "cards.render",
    "CardError": "cards.inputs",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    # Lazy: importing cards.render here would make `python -m cards.render` warn that the module
    # was already imported by its package before running as __main__.
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'cards' has no attribute {name!r}")
