"""Hugging Face Space entry point: `python app.py` serves on $GRADIO_SERVER_PORT (default 7860).

The app lives in space/ (space/app.py); this top layer also makes sure the offline base the bundled
adapters name exists (core.e5_base, idempotent).
"""

from space.app import build_demo, launch


def main() -> None:
    from core.e5_base import build

    build(progress=False)
    launch(build_demo())


if __name__ == "__main__":
    main()
