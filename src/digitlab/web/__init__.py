"""The draw-a-digit page: a small FastAPI app over digitlab.predict, and its static files.

    digitlab serve                                  # then open http://127.0.0.1:8000/

    from digitlab.web.app import create_app         # the ASGI app, for uvicorn or a test client
    app = create_app("runs/best-.../model.safetensors")

Needs the ``web`` extra: ``pip install 'digitlab[web]'``. Nothing here is imported by the rest of
digitlab, so the package works without it.
"""
