"""Hugging Face Space entry point: `python app.py` serves on $GRADIO_SERVER_PORT (default 7860).

The app lives in space/ (space/app.py); models load on first use, so importing this is cheap.
"""

from space.app import build_demo, launch

demo = build_demo()

if __name__ == "__main__":
    launch(demo)
