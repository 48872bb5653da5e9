"""Websocket routes of the scripts app.

The scene rooms (live drafts, presence) and the co-editing document sockets are added
by their issues; the stack around them (auth, origin check) is in cowrite/asgi.py.
"""

websocket_urlpatterns: list = []
