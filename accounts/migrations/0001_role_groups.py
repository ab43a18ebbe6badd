from __future__ import annotations

from django.db import migrations

# Frozen copy of travelbot.roles.ROLE_GROUPS: migrations must not import live code.
ROLE_GROUPS = ("travellers", "knowledge-admins")


def role_groups_create(apps, schema_editor) -> None:
    Group = apps.get_model("auth", "Group")
    for name in ROLE_GROUPS:
        Group.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [("auth", "0012_alter_user_first_name_max_length")]

    operations = [
        # Reversing keeps the groups: deleting them would silently drop every membership.
        migrations.RunPython(role_groups_create, migrations.RunPython.noop),
    ]
