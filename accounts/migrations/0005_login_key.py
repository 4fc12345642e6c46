# Logins are unique, and looked up, by one normalised form: A-Z lowered with translate(), which
# folds exactly what accounts.models.login_key folds in Python, whatever the database's locale
# (LOWER() knew more letters and depended on it).

import accounts.models
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0004_drop_session_user_function'),
        ('devices', '0007_drop_read_functions'),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='user',
            constraint=models.UniqueConstraint(models.Func(models.F('login'), models.Value('ABCDEFGHIJKLMNOPQRSTUVWXYZ'), models.Value('abcdefghijklmnopqrstuvwxyz'), function='translate', output_field=models.CharField()), name='user_login_unique_key', violation_error_message='A user with this login (in any case) already exists.'),
        ),
        migrations.RemoveConstraint(
            model_name='user',
            name='user_login_unique_ci',
        ),
        migrations.AlterField(
            model_name='user',
            name='login',
            field=models.CharField(help_text='Letters, digits and . _ - @ only; case does not matter when logging in.', max_length=64, unique=True, validators=[accounts.models.validate_login]),
        ),
    ]
