from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    """lead_score.previous_grade, kept as previous_score is: what recordInteraction's statement
    needs to write its own change log (models/recording.py). `leadgraph migrate` installs the
    change-log triggers again after every run (models/change_triggers.py)."""

    dependencies = [('models', '0016_stored_scores_function')]

    initial = False

    operations = [
        ops.AddField(
            model_name='LeadScore',
            name='previous_grade',
            field=fields.CharField(null=True, max_length=50),
        ),
    ]
