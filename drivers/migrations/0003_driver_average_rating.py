# A driver's rating is now the average of the stars passengers gave them (rides.Rating), empty
# until the first one; `Driver.rating` shows DRIVER_DEFAULT_RATING meanwhile.

import django.core.validators
from django.db import migrations, models


def forget_unrated_values(apps, schema_editor):
    """Nobody has rated anyone yet: what the column held was the old default (5.0) or a demo
    value, not an average. Every driver starts unrated."""
    apps.get_model("drivers", "Driver").objects.update(average_rating=None)


def restore_default(apps, schema_editor):
    apps.get_model("drivers", "Driver").objects.filter(average_rating__isnull=True).update(average_rating=5.0)


class Migration(migrations.Migration):

    dependencies = [
        ("drivers", "0002_online_nearby_index"),
    ]

    operations = [
        migrations.RenameField(model_name="driver", old_name="rating", new_name="average_rating"),
        migrations.AlterField(
            model_name="driver",
            name="average_rating",
            field=models.DecimalField(
                blank=True,
                decimal_places=1,
                max_digits=2,
                null=True,
                validators=[
                    django.core.validators.MinValueValidator(1),
                    django.core.validators.MaxValueValidator(5),
                ],
            ),
        ),
        migrations.RunPython(forget_unrated_values, restore_default, elidable=True),
    ]
