"""Entry point of the Gradio demo: ``python app.py [--host H] [--port P] [--model DIR] [--device cpu|cuda]``."""

from demo.cli import main

if __name__ == "__main__":
    main()
