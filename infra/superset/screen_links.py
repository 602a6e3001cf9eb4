"""Links a leader saves once: ``/civiclake/mobile/`` (the phone) and ``/civiclake/screen/``
(the command-centre screen) open the dashboard of the viewer's level in kiosk mode.

The level comes from the viewer's roles (dashboards/levels.py, loaded by path: this
runs inside Superset's environment). A viewer who is not logged in goes to the login
form first and comes back here. ``/civiclake/manifest.webmanifest`` lets a phone add
the mobile view to its home screen as an app without the browser's bars.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

LEVELS_FILE = Path(__file__).resolve().parents[2] / "dashboards" / "levels.py"


def load_levels():
    """dashboards/levels.py, loaded by path (Superset's environment has no civiclake)."""
    spec = importlib.util.spec_from_file_location("civiclake_dashboard_levels", LEVELS_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def blueprint(viewer_role_names):
    """The blueprint; ``viewer_role_names()`` gives the current viewer's role names."""
    from flask import Blueprint, abort, jsonify, redirect, request
    from flask_login import current_user

    levels = load_levels()
    bp = Blueprint("civiclake_screens", __name__, url_prefix="/civiclake")

    @bp.route("/<screen>/")
    def open_screen(screen: str):
        if screen not in levels.SCREEN_SLUGS:
            abort(404)
        if not current_user.is_authenticated:
            return redirect(f"/login/?next={request.path}")
        return redirect(levels.screen_path(screen, levels.viewer_level(viewer_role_names())))

    @bp.route("/manifest.webmanifest")
    def manifest():
        return jsonify(
            name="龙华区领导移动端",
            short_name="龙华要情",
            start_url="/civiclake/mobile/",
            display="standalone",
            background_color="#ffffff",
            lang="zh-CN",
        )

    return bp
