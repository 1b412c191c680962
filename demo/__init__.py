"""Gradio demo of StreamDiT: ``python app.py`` serves it (see ``demo.cli``)."""

from demo.app import CSS, THEME, build_demo, launch_options

__all__ = ["CSS", "THEME", "build_demo", "launch_options"]
