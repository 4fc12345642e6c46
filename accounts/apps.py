from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Users and access"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from accounts import session_users
        from accounts.models import User

        # A changed user's kept snapshots are never used again (accounts/session_users.py).
        post_save.connect(session_users.users_changed, sender=User,
                          dispatch_uid="mvcontrol.users_changed.save")
        post_delete.connect(session_users.users_changed, sender=User,
                            dispatch_uid="mvcontrol.users_changed.delete")
