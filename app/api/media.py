"""Where the API serves generated images."""

MEDIA_PREFIX = "/media"


def media_url(relpath: str) -> str:
    return f"{MEDIA_PREFIX}/{relpath}"
