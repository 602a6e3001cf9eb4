"""Create or update the Superset admin user from the environment (idempotent).

Run with the Superset virtualenv after `superset db upgrade` and `superset init`:
    .venvs/superset/bin/python infra/superset/ensure_admin.py
The password is read from SUPERSET_ADMIN_PASSWORD, never from the command line.
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    password = os.environ.get("SUPERSET_ADMIN_PASSWORD", "")
    if not password:
        print("SUPERSET_ADMIN_PASSWORD is not set (source var/secrets.env)", file=sys.stderr)
        return 2
    username = os.environ.get("SUPERSET_ADMIN_USER", "admin")

    from superset.app import create_app

    app = create_app()
    with app.app_context():
        from superset.extensions import security_manager as sm
        from werkzeug.security import check_password_hash

        admin_role = sm.find_role("Admin")
        user = sm.find_user(username=username)
        if user is None:
            created = sm.add_user(
                username,
                "civiclake",
                "admin",
                f"{username}@civiclake.local",
                admin_role,
                password=password,
            )
            if not created:
                print(f"could not create user {username}", file=sys.stderr)
                return 1
            print(f"[superset] created admin user {username}")
        else:
            changed = False
            if not check_password_hash(user.password, password):
                sm.reset_password(user.id, password)
                changed = True
            if admin_role not in user.roles or not user.active:
                user.roles = list({*user.roles, admin_role})
                user.active = True
                sm.update_user(user)
                changed = True
            print(f"[superset] admin user {username} {'updated' if changed else 'ok'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
