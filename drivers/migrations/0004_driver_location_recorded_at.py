# The phone's time of the stored position, apart from the server's (realtime.connections.positions).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("drivers", "0003_driver_average_rating"),
    ]

    operations = [
        migrations.AddField(
            model_name="driver",
            name="location_recorded_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
