"""Open the workbench in a browser: ``python app.py [--host 127.0.0.1] [--port 7860] [--auth user:pass]``."""

from workbench.ui.app import main

if __name__ == "__main__":
    main()
