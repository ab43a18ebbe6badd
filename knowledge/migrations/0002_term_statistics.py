"""Term statistics for BM25: in how many chunks each lexeme occurs, plus the number of chunks
('') and the sum of their lengths (' len'), kept exact by statement-level triggers."""

from __future__ import annotations

from django.db import migrations

FUNCTION = """
CREATE FUNCTION knowledge_termstat_delta() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Deltas are applied in term order, so concurrent writers lock rows in one order.
  IF TG_OP = 'INSERT' THEN
    INSERT INTO knowledge_termstat AS t (term, chunks)
    SELECT term, sum(n) FROM (
      SELECT unnest(tsvector_to_array(search)) AS term, 1::bigint AS n FROM new_rows
      UNION ALL SELECT '', count(*) FROM new_rows
      UNION ALL SELECT ' len', coalesce(sum(length(search)), 0) FROM new_rows) d
    GROUP BY term HAVING sum(n) <> 0 ORDER BY term
    ON CONFLICT (term) DO UPDATE SET chunks = t.chunks + excluded.chunks;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO knowledge_termstat AS t (term, chunks)
    SELECT term, sum(n) FROM (
      SELECT unnest(tsvector_to_array(search)) AS term, -1::bigint AS n FROM old_rows
      UNION ALL SELECT '', -count(*) FROM old_rows
      UNION ALL SELECT ' len', -coalesce(sum(length(search)), 0) FROM old_rows) d
    GROUP BY term HAVING sum(n) <> 0 ORDER BY term
    ON CONFLICT (term) DO UPDATE SET chunks = t.chunks + excluded.chunks;
  ELSE
    INSERT INTO knowledge_termstat AS t (term, chunks)
    SELECT term, sum(n) FROM (
      SELECT unnest(tsvector_to_array(search)) AS term, 1::bigint AS n FROM new_rows
      UNION ALL SELECT unnest(tsvector_to_array(search)), -1 FROM old_rows
      UNION ALL SELECT ' len', coalesce(sum(length(search)), 0) FROM new_rows
      UNION ALL SELECT ' len', -coalesce(sum(length(search)), 0) FROM old_rows) d
    GROUP BY term HAVING sum(n) <> 0 ORDER BY term
    ON CONFLICT (term) DO UPDATE SET chunks = t.chunks + excluded.chunks;
  END IF;
  RETURN NULL;
END $$;
"""

TRIGGERS = """
CREATE TRIGGER chunk_terms_insert AFTER INSERT ON knowledge_chunk
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION knowledge_termstat_delta();
CREATE TRIGGER chunk_terms_update AFTER UPDATE ON knowledge_chunk
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION knowledge_termstat_delta();
CREATE TRIGGER chunk_terms_delete AFTER DELETE ON knowledge_chunk
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION knowledge_termstat_delta();
"""

RESET = """
CREATE FUNCTION knowledge_termstat_reset() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM knowledge_termstat;
  RETURN NULL;
END $$;
CREATE TRIGGER chunk_terms_truncate AFTER TRUNCATE ON knowledge_chunk
  FOR EACH STATEMENT EXECUTE FUNCTION knowledge_termstat_reset();
"""

BACKFILL = """
INSERT INTO knowledge_termstat (term, chunks)
SELECT term, sum(n) FROM (
  SELECT unnest(tsvector_to_array(search)) AS term, 1::bigint AS n FROM knowledge_chunk
  UNION ALL SELECT '', count(*) FROM knowledge_chunk
  UNION ALL SELECT ' len', coalesce(sum(length(search)), 0) FROM knowledge_chunk) d
GROUP BY term;
"""


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0001_knowledge_base")]

    operations = [
        migrations.RunSQL(
            "CREATE TABLE knowledge_termstat (term text PRIMARY KEY, chunks bigint NOT NULL)",
            "DROP TABLE knowledge_termstat",
        ),
        migrations.RunSQL(FUNCTION, "DROP FUNCTION knowledge_termstat_delta()"),
        migrations.RunSQL(
            TRIGGERS,
            "DROP TRIGGER chunk_terms_insert ON knowledge_chunk; "
            "DROP TRIGGER chunk_terms_update ON knowledge_chunk; "
            "DROP TRIGGER chunk_terms_delete ON knowledge_chunk;",
        ),
        migrations.RunSQL(
            RESET,
            "DROP TRIGGER chunk_terms_truncate ON knowledge_chunk; "
            "DROP FUNCTION knowledge_termstat_reset();",
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
