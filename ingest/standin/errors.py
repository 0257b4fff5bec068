"""TMDB's error bodies, as the stand-in answers them, and its one way to answer JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

ERR_AUTH = {
    "status_code": 7,
    "status_message": "Invalid API key: You must be granted a valid key.",
    "success": False,
}
ERR_NOT_FOUND = {
    "success": False,
    "status_code": 34,
    "status_message": "The resource you requested could not be found.",
}
ERR_PAGE = {
    "success": False,
    "status_code": 22,
    "status_message": "Invalid page: Pages start at 1 and max at 500. They are expected to be an integer.",
}
ERR_5XX = {
    500: {
        "success": False,
        "status_code": 11,
        "status_message": "Internal error: Something went wrong, contact TMDB.",
    },
    502: {"success": False, "status_code": 43, "status_message": "Couldn't connect to the backend server."},
    503: {
        "success": False,
        "status_code": 9,
        "status_message": "Service offline: This service is temporarily offline, try again later.",
    },
    504: {
        "success": False,
        "status_code": 24,
        "status_message": "Your request to the backend server timed out. Try again.",
    },
}


ERR_DATE_RANGE = {
    "success": False,
    "status_code": 20,
    "status_message": "Invalid date range: Should be a range no longer than 14 days.",
}
ERR_INPUT = {"success": False, "status_code": 47, "status_message": "The input is not valid."}
ERR_APPEND = {
    "success": False,
    "status_code": 27,
    "status_message": "Too many append to response objects: The maximum number of remote calls is 20.",
}


def err_rate(limit: float) -> dict[str, Any]:
    return {
        "success": False,
        "status_code": 25,
        "status_message": f"Your request count (#) is over the allowed limit of ({limit:g}).",
    }


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    # TMDB answers compact JSON, UTF-8, non-ASCII characters unescaped.
    return web.Response(
        body=orjson.dumps(body),
        status=status,
        headers=headers,
        content_type="application/json",
        charset="utf-8",
    )
