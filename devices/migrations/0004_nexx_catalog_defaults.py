"""Seed the NEXX enum labels and layout catalog with the shipped defaults, so an admin finds
every row ready to correct. Code reads defaults for any row missing, so the seed is a
convenience, not a requirement."""

from django.db import migrations


def seed(apps, schema_editor):
    from devices.nexx.catalog import default_enum_labels
    from devices.nexx.layouts import default_layouts

    NexxEnumLabel = apps.get_model("devices", "NexxEnumLabel")
    Layout = apps.get_model("devices", "Layout")
    LayoutWindow = apps.get_model("devices", "LayoutWindow")
    NexxEnumLabel.objects.bulk_create(
        [NexxEnumLabel(varid=varid, value=value, label=label)
         for varid, labels in default_enum_labels().items()
         for value, label in labels.items()],
        ignore_conflicts=True,
    )
    for geometry in default_layouts().values():
        layout, created = Layout.objects.get_or_create(number=geometry.layout,
                                                       defaults={"name": geometry.name})
        if created:
            LayoutWindow.objects.bulk_create(
                LayoutWindow(layout=layout, window=w.id, x=w.x, y=w.y, w=w.w, h=w.h)
                for w in geometry.windows
            )


def unseed(apps, schema_editor):
    apps.get_model("devices", "LayoutWindow").objects.all().delete()
    apps.get_model("devices", "Layout").objects.all().delete()
    apps.get_model("devices", "NexxEnumLabel").objects.all().delete()


class Migration(migrations.Migration):

    dependencies = [
        ("devices", "0003_nexx_catalog"),
    ]

    operations = [
        migrations.RunPython(seed, unseed),
    ]
