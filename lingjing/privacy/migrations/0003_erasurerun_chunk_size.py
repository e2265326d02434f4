from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("privacy", "0002_rights_requests"),
    ]

    operations = [
        migrations.AddField(
            model_name="erasurerun",
            name="chunk_size",
            field=models.PositiveIntegerField(default=0),
        ),
    ]
