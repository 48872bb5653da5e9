"""The writers' room's websockets: live co-editing of a scene's document (``doc``).

The scene room (drafts) is ``generation.consumers``; both build on ``base``.
"""
